// The soak's stream of small jobs: generated clips of several kinds, submitted one every interval
// through `avspl1t submit` in the client namespace, outputs on the shared folder or on S3.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CLIPS, makeClip } from '../../test/helpers/clips.js';
import { BIN, BUCKET, type Cluster, S3_KEYS, sleep } from './cluster.js';

/** Where a job's working folder and output go. */
export type Placement = 'fs' | 's3-output' | 's3-both';
const PLACEMENTS: Placement[] = ['fs', 's3-output', 'fs', 's3-both'];

/** One job the stream asked for. */
export interface Submission {
  index: number;
  phase: 'baseline' | 'faults';
  source: string;
  placement: Placement;
  /** Set once a submit was answered. */
  jobId?: string;
  /** Submit commands run (a refused or unanswered one is tried again into a fresh folder). */
  tries: number;
  errors: string[];
}

/** Generates the sources (in the shared folder, readable by the workers). */
export async function makeSources(cluster: Cluster): Promise<string[]> {
  const dir = path.join(cluster.shared, 'src');
  await mkdir(dir);
  const specs = [CLIPS.oddSize, CLIPS.short, CLIPS.mpegts, CLIPS.vfr];
  const out: string[] = [];
  for (const spec of specs) out.push(await makeClip(dir, spec));
  return out;
}

/** Jobs of the cluster that have not ended (undefined while PostgreSQL does not answer). */
export async function openJobs(cluster: Cluster): Promise<number | undefined> {
  return cluster
    .sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE state NOT IN ('succeeded', 'failed', 'cancelled')",
    )
    .then((rows) => rows[0]!.n)
    .catch(() => undefined);
}

/**
 * Submits jobs until stop() is called, one per interval while fewer than `maxOpen`
 * jobs are open: a closed loop, so that faults meet jobs in flight rather than a
 * queue that grows for as long as faults slow the workers (the soak measures what
 * faults do to a job, not how long it waits behind others). Submissions are kept in order.
 */
export class JobStream {
  readonly submissions: Submission[] = [];
  private phase: Submission['phase'] = 'baseline';
  private stopped = false;
  private readonly pending: Promise<void>[] = [];
  /** Submit commands running now: on a loaded machine Node starts slowly, and they must not pile up. */
  private inFlight = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly sources: string[],
    private readonly intervalMs: number,
    private readonly maxOpen: number,
  ) {}

  setPhase(phase: Submission['phase']): void {
    this.phase = phase;
  }

  /** Runs the stream in the background. */
  start(): void {
    void (async () => {
      while (!this.stopped) {
        if (this.inFlight >= 2 || ((await openJobs(this.cluster)) ?? this.maxOpen) >= this.maxOpen) {
          await sleep(1_000);
          continue;
        }
        const index = this.submissions.length;
        const s: Submission = {
          index,
          phase: this.phase,
          source: this.sources[index % this.sources.length]!,
          placement: PLACEMENTS[index % PLACEMENTS.length]!,
          tries: 0,
          errors: [],
        };
        this.submissions.push(s);
        this.inFlight++;
        this.pending.push(this.submit(s).finally(() => this.inFlight--));
        await sleep(this.intervalMs);
      }
    })();
  }

  /** Stops submitting and waits for the submits in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.pending);
  }

  /** Stops submitting at once (Ctrl-C): a submit in flight is not tried again. */
  abort(): void {
    this.stopped = true;
  }

  private async submit(s: Submission): Promise<void> {
    while (s.tries < 6 && !s.jobId && !this.cluster.isStopping) {
      s.tries++;
      const name = `job-${s.index}-try-${s.tries}`;
      const fsDir = (leaf: string) => path.join(this.cluster.shared, name, leaf);
      const s3Dir = (leaf: string) => `s3://${BUCKET}/${name}/${leaf}`;
      const working = s.placement === 's3-both' ? s3Dir('work') : fsDir('work');
      const output = s.placement === 'fs' ? fsDir('out') : s3Dir('out');
      const args = [
        ...['submit', '--input', s.source, '--working-dir', working, '--output-dir', output],
        ...['--coordinator', this.cluster.address, '--json'],
        ...['--seconds-per-segment', '1', '--crf', '40', '--preset', '12'],
      ];
      if (s.placement !== 'fs')
        args.push('--endpoint', this.cluster.s3Endpoint, '--region', 'us-east-1', '--forward-credentials');
      const result = await this.runClient(args);
      if (result.ok) {
        try {
          s.jobId = (JSON.parse(result.stdout) as { jobId: string }).jobId;
          return;
        } catch {
          s.errors.push(`unreadable answer: ${result.stdout.slice(0, 200)}`);
        }
      } else {
        s.errors.push(result.stderr.trim().split('\n').slice(-6).join(' / ') || 'no output');
      }
      await sleep(3_000);
    }
  }

  /** Runs one CLI command in the client namespace, killed after 90 s (a loaded machine starts Node slowly). */
  private runClient(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: S3_KEYS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_KEYS.secretAccessKey,
    };
    delete env.AVSPL1T_TOKEN;
    const ns = this.cluster.net.host('client').ns;
    return new Promise((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', ns, process.execPath, BIN, ...args],
        { timeout: 90_000, killSignal: 'SIGKILL', env },
        (error, stdout, stderr) =>
          resolve({
            ok: !error,
            stdout,
            stderr: error?.killed ? `killed after 90 s; ${stderr}` : stderr || (error?.message ?? ''),
          }),
      );
    });
  }
}
