// Keeps a task's lease alive while it runs and reports progress. When the
// coordinator says the lease is gone or the job was cancelled, `onStop` fires
// (the runner aborts the operation, which kills ffmpeg).
import type { Logger } from '../log.js';
import type { CoordinatorClient } from '../rpc/client.js';
import { fromRpcError } from '../rpc/errors.js';

export type StopKind = 'lease-lost' | 'job-cancelled';

export interface HeartbeatOptions {
  client: CoordinatorClient;
  workerId: string;
  taskId: string;
  lease: string;
  intervalMs: number;
  log: Logger;
  onStop: (kind: StopKind) => void;
}

export interface Heartbeat {
  /** Records progress in [0, 1], sent with the next beat. */
  progress(fraction: number): void;
  stop(): void;
}

/**
 * The wait before the next beat: 0.75-1 × the interval, at random. Never later
 * than the interval (the lease allows for three), and workers that started
 * together (a job's first wave) do not stay in step and beat all at once.
 */
export function beatDelay(intervalMs: number, random = Math.random): number {
  return intervalMs * (0.75 + 0.25 * random());
}

/**
 * The wait before a task's first beat: 0.25-1 × the interval, at random. Workers
 * handed their tasks in one wave (every idle worker claims when a split
 * finishes) would otherwise all beat within a quarter of an interval, a burst
 * the coordinator answers one by one.
 */
export function firstBeatDelay(intervalMs: number, random = Math.random): number {
  return intervalMs * (0.25 + 0.75 * random());
}

/** Starts heartbeating about every `intervalMs` (see `firstBeatDelay`, `beatDelay`) until stopped. */
export function startHeartbeat(o: HeartbeatOptions): Heartbeat {
  let progress = 0;
  let inFlight = false;
  let stopped = false;
  const beat = async () => {
    if (inFlight || stopped) return;
    inFlight = true;
    try {
      const res = await o.client.heartbeat(
        { workerId: o.workerId, taskId: o.taskId, lease: o.lease, progress },
        { timeoutMs: o.intervalMs * 2 },
      );
      if (stopped) return;
      if (res.cancelled) o.onStop('job-cancelled');
      else if (!res.leaseValid) o.onStop('lease-lost');
    } catch (err) {
      // The coordinator may be restarting: keep beating; the lease tells later.
      const e = fromRpcError(err);
      if (e.kind === 'not_found') o.onStop('lease-lost');
      else o.log.warn({ taskId: o.taskId, err: e.message }, 'heartbeat failed');
    } finally {
      inFlight = false;
    }
  };
  let timer: NodeJS.Timeout;
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      void beat();
      schedule(beatDelay(o.intervalMs));
    }, delayMs);
  };
  schedule(firstBeatDelay(o.intervalMs));
  return {
    progress: (fraction) => {
      if (Number.isFinite(fraction)) progress = Math.min(1, Math.max(0, fraction));
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
