// Follows a job over WatchJob and draws a progress bar (segments done/total,
// percent, ETA; on a ladder a line per rung under it) on stderr, sized to the terminal. Until the split has counted
// the segments, and whenever nothing happens, it says why: the job waits for a
// worker, or the coordinator is unreachable (it keeps retrying through restarts).
import cliProgress from 'cli-progress';
import { AppError, ErrorKind } from '../errors.js';
import { type Job, JobState, type RenditionProgress } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { CoordinatorClient } from '../rpc/client.js';
import { fromRpcError } from '../rpc/errors.js';

export interface FollowOptions {
  /** No bar and no notes (scripts); the job is still followed to its end. */
  quiet?: boolean;
  signal?: AbortSignal;
  /** Stop waiting (GaveUpWaiting) once the coordinator has been unreachable this long (default 10 min). */
  giveUpMs?: number;
}

/** Where the bar and notes go: stderr, or (tests) a stream that says it is a terminal. */
export type BarStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** Thrown when `followJob` stops waiting although the job may still finish. */
export class GaveUpWaiting extends AppError {
  constructor(message: string, cause?: unknown) {
    super(ErrorKind.Transient, message, { cause });
  }
}

/** After this long queued, the note says no worker has taken a task. */
const QUEUED_NOTE_MS = 5000;

/**
 * Redraws of the bar per second on a terminal: a change shows within half a second.
 * The job changes about once a second (a heartbeat or a finished task), and
 * cli-progress redraws on its timer whether or not anything changed; at its default
 * (10 a second) the redraws were a third of the command's own CPU while ffmpeg
 * encodes (bench/REPORT.md, "The node process").
 */
export const BAR_FPS = 2;

/** Watches the job until it finishes and returns its final state; reconnects if the stream drops. */
export async function followJob(
  client: CoordinatorClient,
  jobId: string,
  options: FollowOptions = {},
): Promise<Job> {
  const view = new WaitView(options.quiet ?? false);
  const giveUpMs = options.giveUpMs ?? 600_000;
  let unreachableSince: number | undefined;
  let last: Job | undefined;
  // Nothing arrives while nothing changes: a clock keeps the notes current.
  const ticker = setInterval(() => view.tick(last, unreachableSince), 1000);
  try {
    for (;;) {
      try {
        for await (const res of client.watchJob({ jobId }, { signal: options.signal })) {
          unreachableSince = undefined;
          last = res.job!;
          view.show(last);
          if (last.finishedAtMs > 0n) return last;
        }
        // The stream ended before the job did: the coordinator is shutting down.
        throw new AppError(ErrorKind.Transient, 'the coordinator closed the stream');
      } catch (err) {
        const e = fromRpcError(err);
        // A coordinator restart drops the stream (a killed one's HTTP/2 stream reads as
        // cancelled, though nobody here cancelled it); anything else is for the caller.
        const dropped = e.kind === ErrorKind.Transient || e.kind === ErrorKind.Cancelled;
        if (!dropped || options.signal?.aborted) throw e;
        unreachableSince ??= Date.now();
        const away = Date.now() - unreachableSince;
        if (away >= giveUpMs)
          throw new GaveUpWaiting(
            `gave up waiting: the coordinator has been unreachable for ${seconds(away)} s (${e.message}); the job may still finish`,
            e,
          );
        view.tick(last, unreachableSince);
        await new Promise((r) => setTimeout(r, Math.min(1000, giveUpMs - away)));
      }
    }
  } finally {
    clearInterval(ticker);
    view.stop();
  }
}

const seconds = (ms: number) => Math.max(0, Math.round(ms / 1000));

/**
 * What `wait` shows: the bar once there are segments (on a ladder, a line per rung under it),
 * else (or while unreachable) a one-line note.
 */
export class WaitView {
  private bars?: { all: cliProgress.SingleBar; rungs: cliProgress.SingleBar[]; multi: cliProgress.MultiBar };
  private percent = 0;
  private note = '';
  private segments = '';
  private rungs: RenditionProgress[] = [];

  constructor(
    private readonly quiet: boolean,
    private readonly stream: BarStream = process.stderr,
  ) {}

  show(job: Job): void {
    if (this.quiet) return;
    if (job.segmentsTotal > 0) {
      this.segments = `${job.segmentsDone}/${job.segmentsTotal}`;
      // A retried task may report less than before: the bar never goes back.
      this.percent = Math.max(this.percent, Math.floor(job.percentComplete));
      this.rungs = job.renditions.length > 1 ? job.renditions : [];
      if (!this.bars) {
        this.clearNote();
        this.startBars();
      } else this.updateBars();
    }
    this.tick(job, undefined);
  }

  /** Updates the note for the job's last known state and the connection. */
  tick(job: Job | undefined, unreachableSince: number | undefined): void {
    if (this.quiet) return;
    let note = '';
    if (unreachableSince !== undefined) note = 'coordinator unreachable, retrying (Ctrl-C to stop waiting)';
    else if (job?.state === JobState.QUEUED) {
      const queued = Date.now() - Number(job.updatedAtMs);
      if (queued >= QUEUED_NOTE_MS)
        note = `queued — no worker has taken a task of this job for ${seconds(queued)} s (is a worker running?)`;
    }
    this.setNote(note);
  }

  private startBars(): void {
    const tty = this.stream.isTTY === true;
    const multi = new cliProgress.MultiBar(
      {
        stream: this.stream,
        noTTYOutput: !tty,
        notTTYSchedule: 5000,
        fps: BAR_FPS,
        hideCursor: tty,
        etaBuffer: 30,
      },
      cliProgress.Presets.shades_classic,
    );
    const all = multi.create(100, this.percent, { segments: this.segments }, { format: jobLine });
    const width = Math.max(0, ...this.rungs.map((r) => r.name.length));
    const rungs = this.rungs.map((r) =>
      multi.create(r.segmentsTotal, r.segmentsDone, { name: r.name.padEnd(width) }, { format: rungLine }),
    );
    this.bars = { all, rungs, multi };
  }

  private updateBars(): void {
    const bars = this.bars!;
    bars.all.update(this.percent, { segments: this.segments });
    // The rungs are known from the split on and do not change.
    for (const [i, r] of this.rungs.entries()) bars.rungs[i]?.update(r.segmentsDone);
  }

  private stopBars(): void {
    this.bars?.multi.stop();
    this.bars = undefined;
  }

  /** A note replaces the bar while it applies; the bar comes back after it. */
  private setNote(note: string): void {
    if (note === this.note) return;
    const tty = this.stream.isTTY === true;
    if (note) this.stopBars();
    // On a terminal the note line is redrawn in place; elsewhere a line when its kind changes.
    // A note wider than the terminal would wrap, and `\r` then clears only its last row.
    if (tty) this.stream.write(`\r\x1b[K${note.slice(0, Math.max(1, (this.stream.columns || 80) - 1))}`);
    else if (note && kind(note) !== kind(this.note)) this.stream.write(`${note}\n`);
    this.note = note;
    if (!note && this.segments && !this.bars) {
      if (tty) this.stream.write('\r\x1b[K');
      this.startBars();
    }
  }

  private clearNote(): void {
    if (this.note && this.stream.isTTY) this.stream.write('\r\x1b[K');
    this.note = '';
  }

  stop(): void {
    if (this.bars) this.stopBars();
    else if (this.note && this.stream.isTTY) this.stream.write('\n');
  }
}

/** A note's kind: its words without the numbers. */
const kind = (note: string) => note.replace(/\d+/g, '');

/** Payload of the job bar. */
interface BarPayload {
  segments: string;
}

/**
 * One bar line fitted to the terminal: the bar shrinks so that segments, percent
 * and ETA always show; no ETA until something is done (it would say 0 s).
 */
export function jobLine(
  _options: unknown,
  params: { progress: number; value: number; eta: number; maxWidth: number },
  payload: BarPayload,
): string {
  const percent = Math.floor(params.progress * 100);
  const eta =
    params.value > 0 && params.value < 100 && Number.isFinite(params.eta) && params.eta > 0
      ? ` | ETA ${formatEta(params.eta)}`
      : '';
  const head = 'encoding ';
  const tail = ` ${payload.segments} segments | ${percent}%${eta}`;
  // Room kept for the longest ETA, so the bar does not change width as it comes and goes;
  // one column spare: a line as wide as the terminal wraps on some terminals.
  const total = payload.segments.split('/')[1] ?? '';
  const room = ` ${total}/${total} segments | 100% | ETA 59m59s`.length;
  const size = Math.max(5, Math.min(40, params.maxWidth - head.length - room - 3));
  const done = Math.round(params.progress * size);
  return `${head}[${'\u2588'.repeat(done)}${'\u2591'.repeat(size - done)}]${tail}`;
}

/** One rung of a ladder under the job's bar: `  av1-720p [████░░░░] 5/15`. */
export function rungLine(
  _options: unknown,
  params: { progress: number; value: number; total: number; maxWidth: number },
  payload: { name: string },
): string {
  const head = `  ${payload.name} `;
  const tail = ` ${params.value}/${params.total}`;
  const size = Math.max(5, Math.min(40, params.maxWidth - head.length - tail.length - 3));
  const done = Math.round(params.progress * size);
  return `${head}[${'\u2588'.repeat(done)}${'\u2591'.repeat(size - done)}]${tail}`;
}

/** `42s`, `3m05s`, `1h02m`. */
export function formatEta(s: number): string {
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** A progress bar on stderr: redrawn on a terminal, a line every `notTTYSchedule` ms otherwise. */
export function progressBar(format: string, options: { notTTYSchedule: number; etaBuffer?: number }) {
  const interactive = process.stderr.isTTY === true;
  return new cliProgress.SingleBar(
    { format, stream: process.stderr, noTTYOutput: !interactive, hideCursor: interactive, ...options },
    cliProgress.Presets.shades_classic,
  );
}
