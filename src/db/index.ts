// Public surface of the database layer: the TaskStore interface, the opener that
// picks its implementation from a `--db` value, the table shapes and states.
export { type Clock, ManualClock, systemClock } from './clock.js';
export { isPostgresUrl, openTaskStore, sqliteFile } from './open.js';
export type { ClaimedRow, JobRow, NewJob, NewTask, TaskRow, TaskRunRow, WorkerRow } from './schema.js';
export { isTerminalJobState, JobState, RunOutcome, TaskKind, TaskState } from './states.js';
export type {
  ChangedTask,
  ClaimRequest,
  Expired,
  Finish,
  Finished,
  Heartbeat,
  JobRun,
  JobWithTasks,
  LeaseStatus,
  OpenOptions,
  RunningTask,
  StateCounts,
  SubmitResult,
  TaskBrief,
  TaskStore,
  WorkerListing,
} from './task-store.js';
