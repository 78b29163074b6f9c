// Public surface of the state store.
export { type Clock, ManualClock, systemClock } from './clock.js';
export { type DialectName, isPostgresUrl } from './dialect.js';
export type { ClaimedRow, JobRow, NewJob, NewTask, TaskRow, TaskRunRow, WorkerRow } from './schema.js';
export { isTerminalJobState, JobState, RunOutcome, TaskKind, TaskState } from './states.js';
export { type Queries, Store, type StoreOptions } from './store.js';
export type {
  ClaimRequest,
  FinishedTask,
  JobCounts,
  Success,
  TaskBrief,
  TaskResult,
} from './task-queries.js';
export type {
  ChangedTask,
  ClaimRequest as StoreClaimRequest,
  Expired,
  Finish,
  Finished,
  Heartbeat,
  JobWithTasks,
  LeaseStatus,
  OpenOptions as StoreOpenOptions,
  RunningTask,
  SubmitResult,
  TaskStore,
  WorkerListing,
} from './task-store.js';
