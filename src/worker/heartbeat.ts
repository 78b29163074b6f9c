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

/** Starts heartbeating every `intervalMs` until stopped. */
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
  const timer = setInterval(() => void beat(), o.intervalMs);
  return {
    progress: (fraction) => {
      if (Number.isFinite(fraction)) progress = Math.min(1, Math.max(0, fraction));
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
