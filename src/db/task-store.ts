// The TaskStore: everything the coordinator asks of its database, one interface
// with one implementation per database (src/db/sqlite/, src/db/postgres/). Each
// implementation owns its SQL, its transactions and its batching; callers cannot
// tell them apart. The job state machine is not here: every method that moves a
// task or a job calls the pure functions of src/coordinator/decide.ts inside its
// transaction and applies their effects there.
//
// Rules every implementation keeps:
// - Every write to a running task matches its lease token (and, for a worker's
//   call, its owner), and a lease counts only while `lease_expires_at >= now`.
// - Rows are locked job first, then its tasks (PostgreSQL), so finishes,
//   expiries and cancels of one job are serialized and never deadlock.
// - A method is atomic: all of its changes commit, or none do. A call that
//   failed on a lost connection may have committed; running it again changes
//   nothing twice (the guards above).
// - Lock contention is retried inside the store; an unreachable database is
//   retried briefly, then thrown as an AppError of kind Transient (UNAVAILABLE
//   at the RPC boundary). Each outage is logged once (availability.ts).
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Effects, Policy, Submission, TaskOutcome } from '../coordinator/decide.js';
import type { ClaimedRow, Database, JobRow, TaskRow, TaskRunRow, WorkerRow } from './schema.js';
import type { JobState } from './states.js';

/** A claim for one worker. */
export interface ClaimRequest {
  now: number;
  workerId: string;
  /** Fresh lease token (db/ids.ts `orderedId`). */
  lease: string;
  leaseMs: number;
}

/** The columns a job's progress and summaries need of each task (no payload or result). */
export type TaskBrief = Pick<
  TaskRow,
  'id' | 'job_id' | 'kind' | 'idx' | 'state' | 'progress' | 'attempts' | 'last_error' | 'lease_owner'
>;

/** A job and its tasks' briefs, in claim order (`ord`). */
export interface JobWithTasks {
  job: JobRow;
  tasks: TaskBrief[];
}

/** What submitting a job did. */
export type SubmitResult =
  | { submitted: true /** The open job it replaced (now cancelled). */; replacedJobId?: string }
  /** Another job owns the location (and `overwrite` was not given). */
  | { submitted: false; refused: 'owned'; owner: string; ownerState: JobState }
  /** The location holds an earlier encode's files (and `overwrite` was not given). */
  | { submitted: false; refused: 'earlier-files' }
  /** Another submit took the free location between our look and our claim. */
  | { submitted: false; refused: 'taken' };

/** A heartbeat from the worker holding a task. */
export interface Heartbeat {
  taskId: string;
  lease: string;
  workerId: string;
  /** In [0, 1]. */
  progress: number;
  now: number;
  /** The lease, when valid, now runs until `now + leaseMs`. */
  leaseMs: number;
}

/** Heartbeat answer. */
export interface LeaseStatus {
  leaseValid: boolean;
  /** The task or its job was cancelled or failed: the worker should stop. */
  cancelled: boolean;
}

/** A worker reporting how a task it holds ended. */
export interface Finish {
  taskId: string;
  lease: string;
  workerId: string;
  now: number;
  outcome: TaskOutcome;
  policy: Policy;
  /** Also claim the worker's next task in the same transaction (it sees the tasks this finish made). */
  next?: ClaimRequest;
}

/** The task a finish or expiry changed: what the coordinator logs. */
export type ChangedTask = Pick<
  TaskRow,
  'id' | 'job_id' | 'kind' | 'idx' | 'payload' | 'attempts' | 'lease_owner'
>;

/** What a finish did. */
export type Finished =
  /** No such task. */
  | { status: 'not-found' }
  /** The lease is not held (expired, given to another worker, or the task is no longer running): nothing changed. */
  | { status: 'lease-lost' }
  | {
      status: 'accepted';
      task: ChangedTask;
      /** What decide() said and the store applied. */
      effects: Effects;
      /** The job's counts after the finish. */
      counts: Pick<JobRow, 'segments_done' | 'segments_total' | 'has_audio' | 'audio_done'>;
      /** The worker's next task, when `next` was asked for and one was runnable. */
      next?: ClaimedRow;
    };

/** A task whose lease expired, and what decide() made of it. */
export interface Expired {
  task: ChangedTask;
  effects: Effects;
}

/** A running task and the worker holding it (for ListWorkers). */
export type RunningTask = Pick<TaskRow, 'id' | 'job_id' | 'kind' | 'idx' | 'lease_owner' | 'updated_at'>;

/** The workers seen, with what ListWorkers shows of each. */
export interface WorkerListing {
  workers: WorkerRow[];
  /** Runs that succeeded, per worker that has any. */
  done: Map<string, number>;
  /** Running tasks (heartbeats keep `updated_at` fresh), by job then claim order. */
  running: RunningTask[];
}

/** Rows per `state` of the jobs and tasks tables (the metrics gauges). */
export interface StateCounts {
  jobs: Map<string, number>;
  tasks: Map<string, number>;
}

/** One run (claim) of a job's task, with the task's kind and index (the console's timeline). */
export type JobRun = Pick<
  TaskRunRow,
  'task_id' | 'attempt' | 'worker_id' | 'started_at' | 'ended_at' | 'outcome' | 'error'
> &
  Pick<TaskRow, 'kind' | 'idx'>;

/** The coordinator's database. */
export interface TaskStore {
  /** The database location, without passwords (for logs). */
  readonly display: string;
  /** Whether the last contact with the database failed (an outage is under way). */
  readonly unavailable: boolean;
  /**
   * Kysely on the same database: migrations, admin reads and tests only; never
   * the coordinator's paths (and never a Kysely transaction held open while the
   * store is in use: on SQLite it shares the store's one connection).
   */
  readonly db: Kysely<Database>;

  // Jobs

  /**
   * Stores a new job and its split task (decide.ts `newJob`), taking its output
   * location by `decideSubmit`'s rules and cancelling the open job it replaces
   * (`decideCancel`), all in one transaction.
   */
  submit(s: Submission, now: number, policy: Policy): Promise<SubmitResult>;
  /** One job and its tasks; undefined when there is no such job. */
  getJob(jobId: string): Promise<JobWithTasks | undefined>;
  /** The newest jobs first (created_at desc, then id), at most `limit`, with their tasks. */
  listJobs(limit: number): Promise<JobWithTasks[]>;
  /**
   * Cancels an open job (`decideCancel`): its queued and running tasks are
   * cancelled, their leases cut and open runs ended. 'unchanged' when it had
   * already ended.
   */
  cancelJob(jobId: string, now: number): Promise<'cancelled' | 'unchanged' | 'not-found'>;

  // Tasks

  /** Whether any task is runnable at `now` (a read: an idle poll skips the claim's write). */
  anyRunnable(now: number): Promise<boolean>;
  /**
   * Leases the next runnable task (queued, run_after <= now; oldest job first,
   * then `ord`) to the worker: state running, the request's lease, expiry
   * now + leaseMs, attempts + 1, progress 0. In the same transaction: starts the
   * run (task_runs), records the worker as seen with one more claim, and moves a
   * split's job from queued to running. Undefined when nothing is runnable.
   * Several stores on one database never lease one task twice.
   */
  claim(req: ClaimRequest): Promise<ClaimedRow | undefined>;
  /**
   * Extends a valid lease the worker holds to now + leaseMs and records progress.
   * When the lease is not valid: whether the task or its job was stopped.
   * Undefined when there is no such task.
   */
  heartbeat(h: Heartbeat): Promise<LeaseStatus | undefined>;
  /**
   * Records how a task ended, atomically: checks the lease (held by the worker,
   * running, not expired at `now`), reads the job, calls `decide`, applies its
   * effects (the task, its run, the job, new tasks, the manifest task, cancelling
   * the job's other tasks) and, when asked and accepted, claims the worker's next
   * task as `claim` does. A release (a claim given back) is a finish with outcome
   * `released`. Throws InvalidInput (from decide) for a result of the wrong kind.
   */
  finish(f: Finish): Promise<Finished>;
  /**
   * Requeues or fails (decide's `expired` outcome) up to `limit` running tasks
   * whose lease expired before `now`, each atomically with its job; returns
   * those it changed (a task finished or extended meanwhile is skipped).
   */
  expireLeases(now: number, leaseMs: number, policy: Policy, limit: number): Promise<Expired[]>;
  /**
   * Moves the lease expiry of every running task to at least `until` (a
   * coordinator starting: workers could not heartbeat while none ran); returns
   * how many moved.
   */
  resumeLeases(until: number, now: number): Promise<number>;

  // Workers

  /**
   * Records a worker as seen at `now` (creating its row); with `profile`, also
   * the host and slots it reports.
   */
  workerSeen(workerId: string, now: number, profile?: { host: string; slots: number }): Promise<void>;
  /** Every worker seen, with its succeeded runs and the tasks it holds. */
  listWorkers(): Promise<WorkerListing>;

  // Reads for the console, the metrics and /readyz

  /** How many jobs and tasks are in each state. */
  countStates(): Promise<StateCounts>;
  /** The runs of a job's tasks in start order, at most `limit` (none for an unknown job). */
  jobRuns(jobId: string, limit: number): Promise<JobRun[]>;
  /**
   * Names of the migrations this code knows that the database has not applied
   * (empty when the schema is current); throws when the database does not answer.
   */
  missingMigrations(): Promise<string[]>;

  /** Closes the connection or pool. */
  close(): Promise<void>;
}

/** Options for opening a store. */
export interface OpenOptions {
  /** Where outages (start and end) are reported. */
  log?: Logger;
  /** Maximum pooled connections (PostgreSQL). */
  poolSize?: number;
  /** Called when an idle pooled connection fails (PostgreSQL); the pool reconnects by itself. */
  onPoolError?: (err: Error) => void;
}
