// Table shapes as Kysely sees them. Timestamps are integer milliseconds since the
// epoch; messages (job details, task payloads, results) are binary protobuf.
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { JobState, RunOutcome, TaskKind, TaskState } from './states.js';

export interface JobsTable {
  id: string;
  state: JobState;
  /** EncodeJob (binary protobuf). Holds storage credentials: never returned unredacted. */
  details: Uint8Array;
  /** SourceInfo measured by the split task. */
  source: Uint8Array | null;
  /** ManifestResult of the finished job. */
  result: Uint8Array | null;
  failure_reason: string | null;
  segments_total: number;
  /** Encode tasks succeeded (kept here so a finish need not count tasks). */
  segments_done: number;
  /** 1 when the source has audio (so the job has an audio task). */
  has_audio: number;
  /** 1 once the audio task succeeded. */
  audio_done: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface TasksTable {
  id: string;
  job_id: string;
  kind: TaskKind;
  /** Piece index for encode tasks, 0 otherwise. */
  idx: number;
  /** Claim order inside the job (audio first, then encodes by index). */
  ord: number;
  /** Copy of the job's created_at: claims take the oldest job first without a join. */
  job_created_at: number;
  state: TaskState;
  /** Task message with only its `kind` oneof set (binary protobuf). */
  payload: Uint8Array;
  /** The kind's result message (SplitResult, EncodeResult, ...). */
  result: Uint8Array | null;
  /** Claims so far (a released claim is given back). */
  attempts: number;
  max_attempts: number;
  /** Token of the current lease; null unless running. */
  lease: string | null;
  /** Worker holding (or that last held) the task. */
  lease_owner: string | null;
  lease_expires_at: number | null;
  /** Not claimable before this time (retry backoff). */
  run_after: number;
  last_error: string | null;
  /** Progress in [0, 1] reported by heartbeats. */
  progress: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** One claim of a task: who ran it, when, and how it ended. */
export interface TaskRunsTable {
  lease: string;
  task_id: string;
  job_id: string;
  attempt: number;
  worker_id: string;
  started_at: number;
  ended_at: number | null;
  outcome: RunOutcome | null;
  error: string | null;
}

export interface WorkersTable {
  id: string;
  first_seen_at: number;
  last_seen_at: number;
  claims: number;
  /** Host name the worker reported ('' = not reported). */
  host: string;
  /** Tasks the worker runs at once (0 = not reported). */
  slots: number;
}

/** The job that owns an output location (see OutputQueries). */
export interface OutputsTable {
  /** The location, normalized (output-safety.ts `outputKey`). */
  location: string;
  job_id: string;
  updated_at: number;
}

export interface Database {
  outputs: OutputsTable;
  jobs: JobsTable;
  tasks: TasksTable;
  task_runs: TaskRunsTable;
  workers: WorkersTable;
}

export type JobRow = Selectable<JobsTable>;
export type NewJob = Insertable<JobsTable>;
export type JobUpdate = Updateable<JobsTable>;
export type TaskRow = Selectable<TasksTable>;
export type NewTask = Insertable<TasksTable>;
export type TaskUpdate = Updateable<TasksTable>;
export type TaskRunRow = Selectable<TaskRunsTable>;
export type WorkerRow = Selectable<WorkersTable>;

// The columns by name, for hand-written statements (raw-sql.ts): a named prepared
// statement on PostgreSQL must not expand `*`, or a column added later would
// change its result type under a running coordinator.

/** Every column of tasks. */
export const TASK_COLUMNS = [
  'id',
  'job_id',
  'kind',
  'idx',
  'ord',
  'job_created_at',
  'state',
  'payload',
  'result',
  'attempts',
  'max_attempts',
  'lease',
  'lease_owner',
  'lease_expires_at',
  'run_after',
  'last_error',
  'progress',
  'created_at',
  'updated_at',
  'finished_at',
] as const satisfies readonly (keyof TaskRow)[];

/** Every column of jobs. */
export const JOB_COLUMNS = [
  'id',
  'state',
  'details',
  'source',
  'result',
  'failure_reason',
  'segments_total',
  'segments_done',
  'has_audio',
  'audio_done',
  'created_at',
  'updated_at',
  'finished_at',
] as const satisfies readonly (keyof JobRow)[];

// Fail to compile when a table gains a column its list lacks.
const allTaskColumns: Exclude<keyof TaskRow, (typeof TASK_COLUMNS)[number]> extends never ? true : never =
  true;
const allJobColumns: Exclude<keyof JobRow, (typeof JOB_COLUMNS)[number]> extends never ? true : never = true;
void allTaskColumns;
void allJobColumns;

/** What a claim returns: what the worker's Task message and the claim's bookkeeping need. */
export const CLAIMED_COLUMNS = [
  'id',
  'job_id',
  'kind',
  'idx',
  'state',
  'payload',
  'attempts',
  'lease',
  'lease_owner',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof TaskRow)[];
export type ClaimedRow = Pick<TaskRow, (typeof CLAIMED_COLUMNS)[number]>;

/** `TASK_COLUMNS` as a select list. */
export const TASK_LIST = TASK_COLUMNS.join(', ');
/** `JOB_COLUMNS` as a select list. */
export const JOB_LIST = JOB_COLUMNS.join(', ');
