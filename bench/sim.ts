// Simulated workers and a coordinator process for the dispatch and scale-out
// benchmarks: workers speak the real gRPC protocol (GetTask long polls,
// FinishTask) and answer with fake results, optionally after a delay per task.
import { type ChildProcess, spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Task } from '../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, type CoordinatorClient, connectCoordinator } from '../src/rpc/index.js';
import { beatDelay, firstBeatDelay } from '../src/worker/heartbeat.js';
import { resultFor, sampleJob, splitResult } from '../test/fixtures/messages.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A coordinator running in a child process. */
export interface CoordinatorProcess {
  address: string;
  child: ChildProcess;
  /** CPU time (user + system, all threads) the process has used so far, ms; NaN where /proc is missing. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

function processCpuMs(pid: number | undefined): number {
  try {
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/**
 * The node flags docs/deploy.md advises for a coordinator: a young generation of
 * 8 MiB a semi-space keeps its longest scavenges short (the measurements:
 * docs/deploy.md and bench/REPORT.md, "Dispatch").
 */
export const COORDINATOR_NODE_ARGS = '--max-semi-space-size=8';

/** The node flags the bench's coordinators get: BENCH_NODE_ARGS when set, else COORDINATOR_NODE_ARGS. */
export function coordinatorNodeArgs(): string {
  return process.env.BENCH_NODE_ARGS ?? COORDINATOR_NODE_ARGS;
}

/** Starts `bench/serve.js` on `db` (SQLite path or postgres URL). */
export async function spawnCoordinator(db: string, pollIntervalMs = 500): Promise<CoordinatorProcess> {
  // The coordinator runs as docs/deploy.md advises (COORDINATOR_NODE_ARGS). BENCH_NODE_ARGS
  // replaces those flags (e.g. --cpu-prof to profile it; empty for Node's defaults);
  // BENCH_SERVE runs another build of it.
  const nodeArgs = coordinatorNodeArgs().split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, process.env.BENCH_SERVE ?? path.join(here, 'serve.js'), db, String(pollIntervalMs)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    // A flag such as --trace-gc prints to stdout too: the address is the first JSON line,
    // and everything else goes on to stderr (an unread pipe would block the coordinator).
    const lines = createInterface({ input: child.stdout! });
    let found = false;
    lines.on('line', (l) => {
      if (!found && l.startsWith('{')) {
        found = true;
        resolve(l);
      } else process.stderr.write(`${l}\n`);
    });
    child.once('exit', (code) => reject(new Error(`coordinator exited ${code}`)));
  });
  const { address } = JSON.parse(line) as { address: string };
  return {
    address,
    child,
    cpuMs: () => processCpuMs(child.pid),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

/**
 * CPU time (user + system) used so far by the bench's PostgreSQL cluster (its
 * server and backends), ms; NaN where /proc is missing. The cluster is the one
 * whose data directory BENCH_PG_DATA names (set by run.ts); without it, every
 * process named `postgres`, other clusters on the host included.
 */
export function postgresCpuMs(): number {
  try {
    let ms = 0;
    const dataDir = process.env.BENCH_PG_DATA;
    // The postmaster's pid is the first line of postmaster.pid; backends are its children.
    const postmaster = dataDir && readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0];
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      if (!stat.includes('(postgres)')) continue;
      // utime, stime and the waited-for children's cutime, cstime (exited backends).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (postmaster && pid !== postmaster && fields[1] !== postmaster) continue;
      ms += ([11, 12, 13, 14].reduce((t, i) => t + Number(fields[i]), 0) * 1000) / CLOCK_TICKS;
    }
    return ms;
  } catch {
    return Number.NaN;
  }
}

/**
 * A split result as a real split reports it: every piece lists its frames'
 * timestamps (2 s at 30 fps), which every encode task's payload then carries.
 */
export function realisticSplit(pieces: number, hasAudio: boolean, size?: { width: number; height: number }) {
  const split = splitResult(pieces, hasAudio);
  // The ladder a default-ladder job gets is decided by the source's size.
  if (size) Object.assign(split.source!, size);
  for (const p of split.pieces)
    p.framePts = Array.from({ length: 60 }, (_, f) => p.start + (f * p.duration) / 60);
  return { case: 'split' as const, value: split };
}

/** Latencies of one method's calls: when each started (performance.now()) and how long it took (ms). */
export class Latency {
  readonly at: number[] = [];
  readonly ms: number[] = [];

  add(at: number): void {
    this.at.push(at);
    this.ms.push(performance.now() - at);
  }

  /** The latencies of calls started at or after `from`. */
  since(from: number): number[] {
    return this.ms.filter((_, i) => this.at[i]! >= from);
  }
}

/** Latencies of calls, grouped by method. */
export interface Latencies {
  getTask: Latency;
  finishTask: Latency;
  heartbeat: Latency;
  /** The first heartbeat of each task (also in `heartbeat`): the beats of workers that claimed in one wave. */
  firstHeartbeat: Latency;
}

export interface SimOptions {
  /** Pieces the fake split reports (encode tasks per job). */
  pieces: number;
  /** Whether the fake split reports audio (adds an audio task). */
  hasAudio?: boolean;
  /** How long a worker "runs" a task before finishing it (ms); 0 = at once. */
  durationMs?: (task: Task) => number;
  /** GetTask wait_ms. */
  waitMs?: number;
  /** The source size the fake split reports (default: the fixture's 320x180). */
  sourceSize?: { width: number; height: number };
}

/**
 * A fleet of simulated single-slot workers sharing `connections` HTTP/2 connections.
 * They call GetTask/Heartbeat/FinishTask and submit through the project's own
 * gRPC client (`src/rpc/client.ts`), one per connection.
 */
export class Fleet {
  readonly latencies: Latencies = {
    getTask: new Latency(),
    finishTask: new Latency(),
    heartbeat: new Latency(),
    firstHeartbeat: new Latency(),
  };
  /** Tasks finished, by kind. */
  finished = 0;
  /** When the last split's FinishTask was sent (its encodes become claimable during that call). */
  splitFinishAt = Number.NaN;
  /** When each worker received its first encode (or audio) task, in order. */
  readonly firstWorkAt: number[] = [];
  /** Called when a worker receives a task (after GetTask returns). */
  onTask?: (task: Task, at: number) => void;
  private readonly handle: ClientHandle;
  private readonly sessions: ClientHandle[];
  private readonly stop = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    address: string,
    readonly workers: number,
    connections: number,
    private readonly opts: SimOptions,
  ) {
    // Every call of every worker listens on the one stop signal.
    setMaxListeners(0, this.stop.signal);
    this.handle = connectCoordinator(address);
    this.sessions = Array.from({ length: Math.max(1, Math.min(workers, connections)) }, () =>
      connectCoordinator(address),
    );
  }

  /** When the last worker received its first task (performance.now()); the start-up wave ends there. */
  get allBusyAt(): number {
    return this.firstWorkAt.length === this.workers ? this.firstWorkAt.at(-1)! : Number.POSITIVE_INFINITY;
  }

  /** The real client, for submitting and watching jobs. */
  get client(): CoordinatorClient {
    return this.handle.client;
  }

  start(): void {
    this.loops = Array.from({ length: this.workers }, (_, i) =>
      this.loop(`w${i}`, this.sessions[i % this.sessions.length]!.client),
    );
  }

  private async loop(workerId: string, client: CoordinatorClient): Promise<void> {
    const signal = this.stop.signal;
    // Like the real worker, each finish asks for the next task; GetTask long polls
    // only when the finish brought none.
    let next: Task | undefined;
    let first = true;
    while (!signal.aborted) {
      let task = next;
      next = undefined;
      if (!task) {
        const t0 = performance.now();
        try {
          task = (await client.getTask({ workerId, waitMs: this.opts.waitMs ?? 2000 }, { signal })).task;
        } catch (err) {
          if (signal.aborted) return;
          throw err;
        }
        // An empty answer is a long poll that ran out, not a dispatch latency.
        if (!task) continue;
        this.latencies.getTask.add(t0);
      }
      if (first && task.kind.case !== 'split') {
        first = false;
        this.firstWorkAt.push(performance.now());
      }
      this.onTask?.(task, performance.now());
      const ms = this.opts.durationMs?.(task) ?? 0;
      if (ms > 0) await this.hold(client, workerId, task, ms);
      const t2 = performance.now();
      if (task.kind.case === 'split') this.splitFinishAt = t2;
      const res = await client.finishTask({
        workerId,
        taskId: task.id,
        lease: task.lease,
        result:
          task.kind.case === 'split'
            ? realisticSplit(this.opts.pieces, this.opts.hasAudio ?? false, this.opts.sourceSize)
            : resultFor(task, this.opts.pieces, this.opts.hasAudio ?? false),
        wantNext: !signal.aborted,
      });
      this.latencies.finishTask.add(t2);
      if (!res.accepted) throw new Error(`finish of ${task.id} refused: lease lost`);
      this.finished++;
      next = res.next;
    }
  }

  /** "Runs" a task for `ms`, heartbeating like a real worker (`startHeartbeat`'s schedule) so long tasks keep their lease. */
  private async hold(client: CoordinatorClient, workerId: string, task: Task, ms: number): Promise<void> {
    const end = performance.now() + ms;
    for (let beats = 0; ; beats++) {
      const left = end - performance.now();
      if (left <= 0) return;
      const delay = (beats === 0 ? firstBeatDelay : beatDelay)(task.heartbeatIntervalMs);
      await new Promise((r) => setTimeout(r, Math.min(left, delay)));
      if (performance.now() < end) {
        const t0 = performance.now();
        await client.heartbeat({ workerId, taskId: task.id, lease: task.lease, progress: 0.5 });
        this.latencies.heartbeat.add(t0);
        if (beats === 0) this.latencies.firstHeartbeat.add(t0);
      }
    }
  }

  /** Stops polling and closes the connections. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled(this.loops);
    for (const s of this.sessions) s.close();
    this.handle.close();
  }
}

/** Submits a sample job (with `overrides`, e.g. a ladder); its split will report `pieces` pieces. */
export async function submit(
  client: CoordinatorClient,
  overrides: Parameters<typeof sampleJob>[1] = {},
): Promise<string> {
  return (await client.submitJob({ job: sampleJob('/bench', overrides) })).jobId;
}

/** Resolves when the job has finished (polling GetJob every `everyMs`). */
export async function waitDone(client: CoordinatorClient, jobId: string, everyMs = 20): Promise<void> {
  for (;;) {
    const job = (await client.getJob({ jobId })).job!;
    if (job.finishedAtMs > 0n) {
      if (job.failureReason) throw new Error(`job failed: ${job.failureReason}`);
      return;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The p-th percentile (0..100) of `xs`, nearest rank. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
