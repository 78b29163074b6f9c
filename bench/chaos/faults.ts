// Carries out one scheduled fault on the running cluster and records when it began and ended
// (for a kill: until the program answers again), which the invariants and the report read.
import { chmod } from 'node:fs/promises';
import type { Cluster } from './cluster.js';
import { sleep } from './cluster.js';
import { type Fault, FaultKind } from './schedule.js';

/** A fault as it happened: wall-clock start and end, and an error if carrying it out failed. */
export interface FaultRecord extends Fault {
  startedAt: number;
  endedAt: number;
  error?: string;
}

/** Injects `fault` now and heals it after its duration; never throws (an error is recorded). */
export async function inject(cluster: Cluster, fault: Fault): Promise<FaultRecord> {
  const startedAt = Date.now();
  const { target, durationMs } = fault;
  let error: string | undefined;
  try {
    switch (fault.kind) {
      case FaultKind.WorkerKill:
        await cluster.signal(target, 'SIGKILL');
        await sleep(durationMs);
        cluster.startWorker(target);
        break;
      case FaultKind.CoordinatorKill:
        await cluster.signal(target, 'SIGKILL');
        await sleep(durationMs);
        await cluster.startCoordinator(target);
        break;
      case FaultKind.WorkerPause:
      case FaultKind.CoordinatorPause:
        await cluster.signal(target, 'SIGSTOP');
        await sleep(durationMs);
        await cluster.signal(target, 'SIGCONT');
        break;
      case FaultKind.WorkerLinkCut:
      case FaultKind.CoordinatorLinkCut:
        await cluster.net.setLink(target, false);
        await sleep(durationMs);
        await cluster.net.setLink(target, true);
        break;
      case FaultKind.WorkerDiskReadOnly:
        // The worker runs as nobody: without write permission its task folders cannot be made.
        await chmod(cluster.workerTmp(target), 0o555);
        await sleep(durationMs);
        await chmod(cluster.workerTmp(target), 0o755);
        break;
      case FaultKind.PostgresRestart:
        await cluster.stopPostgres();
        await sleep(durationMs);
        await cluster.startPostgres();
        break;
      case FaultKind.S3Restart:
        await cluster.signal('s3', 'SIGKILL');
        await sleep(durationMs);
        await cluster.startS3();
        break;
    }
  } catch (e) {
    error = (e as Error).message;
  }
  return { ...fault, startedAt, endedAt: Date.now(), ...(error ? { error } : {}) };
}

/** Whether a fault leaves `coordinator` unable to answer while it lasts. */
export function downsCoordinator(record: FaultRecord, coordinator: string): boolean {
  return (
    record.target === coordinator &&
    (record.kind === FaultKind.CoordinatorKill ||
      record.kind === FaultKind.CoordinatorPause ||
      record.kind === FaultKind.CoordinatorLinkCut)
  );
}
