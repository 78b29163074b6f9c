// Follows a job over WatchJob and draws a progress bar (segments done/total,
// percent, ETA) on stderr. The bar appears once the split has counted the
// segments, so jobs that fail early print nothing but their error.
import cliProgress from 'cli-progress';
import { AppError, ErrorKind } from '../errors.js';
import type { Job } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { CoordinatorClient } from '../rpc/client.js';
import { fromRpcError } from '../rpc/errors.js';

export interface FollowOptions {
  /** No bar at all (scripts); the job is still followed to its end. */
  quiet?: boolean;
  signal?: AbortSignal;
}

/** Watches the job until it finishes and returns its final state; reconnects if the stream drops. */
export async function followJob(
  client: CoordinatorClient,
  jobId: string,
  options: FollowOptions = {},
): Promise<Job> {
  const bar = progressBar('encoding [{bar}] {segments} segments | {percentage}% | ETA {eta_formatted}', {
    notTTYSchedule: 5000,
    etaBuffer: 30,
  });
  let started = false;
  const show = (job: Job) => {
    if (options.quiet || job.segmentsTotal === 0) return;
    const segments = `${job.segmentsDone}/${job.segmentsTotal}`;
    if (!started) {
      bar.start(100, 0, { segments });
      started = true;
    }
    bar.update(Math.floor(job.percentComplete), { segments });
  };
  let failures = 0;
  try {
    for (;;) {
      try {
        for await (const res of client.watchJob({ jobId }, { signal: options.signal })) {
          failures = 0;
          const job = res.job!;
          show(job);
          if (job.finishedAtMs > 0n) return job;
        }
        // The stream ended before the job did: the coordinator is shutting down.
        throw new AppError(ErrorKind.Transient, 'the coordinator closed the stream');
      } catch (err) {
        const e = fromRpcError(err);
        // A coordinator restart drops the stream; anything else is for the caller.
        if (e.kind !== 'transient' || options.signal?.aborted || ++failures > 30) throw e;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    if (started) bar.stop();
  }
}

/** A progress bar on stderr: redrawn on a terminal, a line every `notTTYSchedule` ms otherwise. */
export function progressBar(format: string, options: { notTTYSchedule: number; etaBuffer?: number }) {
  const interactive = process.stderr.isTTY === true;
  return new cliProgress.SingleBar(
    { format, stream: process.stderr, noTTYOutput: !interactive, hideCursor: interactive, ...options },
    cliProgress.Presets.shades_classic,
  );
}
