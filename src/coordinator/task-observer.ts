// What the coordinator tells an observer (the metrics) about tasks: hand-outs,
// how finishes ended, lease expiries. The coordinator works the same without one.
import type { FinishTaskRequest, Task } from '../gen/avspl1t/v1/coordinator_pb.js';

/** How an accepted finish left its task ('cancelled': its job had ended meanwhile). */
export type TaskEnd = 'succeeded' | 'failed' | 'retried' | 'given-back' | 'cancelled';

export interface TaskObserver {
  /** A GetTask call answered after `ms`, with a task or without. */
  claimed(task: Task | undefined, ms: number): void;
  /** A task handed out with a finish (`want_next`). */
  handedOut(task: Task): void;
  /** A FinishTask call answered after `ms`; `ended` is undefined when the finish was ignored. */
  finished(req: FinishTaskRequest, ended: { kind: string; end: TaskEnd } | undefined, ms: number): void;
  /** A Heartbeat call answered after `ms`, by whether the worker still held the lease. */
  heartbeat(leaseValid: boolean, ms: number): void;
  /** Leases found expired by a sweep (their tasks requeued or failed). */
  leasesExpired(count: number): void;
}
