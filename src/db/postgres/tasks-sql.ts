// Statements on the tasks table (the claim is in claim-sql.ts). Every change
// to a running task matches its lease token, so a worker that lost its lease can
// never change the task again.
import type { TaskChange } from '../../coordinator/decide.js';
import { JOB_COLUMNS, type JobRow, type NewTask, TASK_COLUMNS, TASK_LIST, type TaskRow } from '../schema.js';
import { TaskState } from '../states.js';
import { type Statement, statement } from './statement.js';

const RUNNING = `'${TaskState.Running}'`;
const QUEUED = `'${TaskState.Queued}'`;

/** One task, every column. */
export function getTask(id: string): Statement {
  return statement('task', `select ${TASK_LIST} from tasks where id = $1`, [id]);
}

const TASK_WITH_JOB =
  `select ${[...JOB_COLUMNS.map((c) => `j.${c}`), ...TASK_COLUMNS.map((c) => `t.${c}`)].join(', ')} ` +
  'from jobs j join tasks t on t.job_id = j.id where t.id = $1';
const LOCK_TASK_WITH_JOB = `${TASK_WITH_JOB} for update of j, t`;

/** A task and its job as they are now, locking neither; its row comes as `lockTaskWithJob`'s does. */
export function taskWithJob(taskId: string): Statement {
  return { ...statement('task_with_job', TASK_WITH_JOB, [taskId]), rowMode: 'array' };
}

/**
 * A task and its job, both locked until the transaction ends, in one statement
 * (FOR UPDATE OF locks the job, then the task: the lock order). Its row comes as
 * an array, the job's columns then the task's (`taskJobRows` reads them).
 */
export function lockTaskWithJob(taskId: string): Statement {
  return { ...statement('lock_task_with_job', LOCK_TASK_WITH_JOB, [taskId]), rowMode: 'array' };
}

/** The job and the task of a `taskWithJob` or `lockTaskWithJob` row. */
export function taskJobRows(row: readonly unknown[]): { job: JobRow; task: TaskRow } {
  const job: Record<string, unknown> = {};
  const task: Record<string, unknown> = {};
  JOB_COLUMNS.forEach((c, i) => {
    job[c] = row[i];
  });
  TASK_COLUMNS.forEach((c, i) => {
    task[c] = row[JOB_COLUMNS.length + i];
  });
  return { job: job as JobRow, task: task as TaskRow };
}

/** Inserts tasks: one statement whatever their number (one array per column). */
export function insertTasks(rows: readonly NewTask[]): Statement {
  const col = <K extends keyof NewTask>(k: K) => rows.map((r) => r[k] ?? null);
  return statement(
    'insert_tasks',
    'insert into tasks (id, job_id, kind, idx, ord, job_created_at, state, payload, attempts, max_attempts, ' +
      'run_after, progress, created_at, updated_at) ' +
      'select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int8[], $7::text[], ' +
      '$8::bytea[], $9::int[], $10::int[], $11::int8[], $12::float8[], $13::int8[], $14::int8[])',
    [
      col('id'),
      col('job_id'),
      col('kind'),
      col('idx'),
      col('ord'),
      col('job_created_at'),
      col('state'),
      col('payload'),
      rows.map((r) => r.attempts ?? 0),
      col('max_attempts'),
      col('run_after'),
      rows.map((r) => r.progress ?? 0),
      col('created_at'),
      col('updated_at'),
    ],
  );
}

/** Moves the lease expiry of every running task to at least `until` (a coordinator starting). */
export function extendRunning(until: number, now: number): Statement {
  return statement(
    'extend_running',
    `update tasks set lease_expires_at = $1, updated_at = $2 where state = ${RUNNING} and lease_expires_at < $1`,
    [until, now],
  );
}

/** Running tasks whose lease expired before `now`, the oldest first. */
export function expiredTasks(now: number, limit: number): Statement {
  // The state as a literal: the partial index tasks_lease holds the running tasks.
  return statement(
    'expired_tasks',
    `select id, job_id, lease from tasks where state = ${RUNNING} and lease_expires_at < $1 ` +
      'order by lease_expires_at limit $2',
    [now, limit],
  );
}

/** The text of `changeTask`. */
export const CHANGE_TASK =
  'update tasks set state = $1, result = coalesce($2, result), last_error = coalesce($3, last_error), ' +
  'run_after = coalesce($4, run_after), attempts = coalesce($5, attempts), progress = coalesce($6, progress), ' +
  'lease = null, lease_expires_at = null, updated_at = $7, finished_at = $8 ' +
  `where id = $9 and lease = $10 and state = ${RUNNING}`;

/**
 * Applies decide()'s change to the running task holding `lease` (the caller
 * holds the task's lock and has checked the lease); every change clears the lease.
 */
export function changeTask(id: string, lease: string, change: TaskChange, now: number): Statement {
  const s = change.state;
  return statement('change_task', CHANGE_TASK, [
    s,
    s === TaskState.Succeeded ? change.result : null,
    s === TaskState.Queued || s === TaskState.Failed ? (change.lastError ?? null) : null,
    s === TaskState.Queued ? change.runAfter : null,
    s === TaskState.Queued ? change.attempts : null,
    s === TaskState.Succeeded ? 1 : s === TaskState.Queued ? 0 : null,
    now,
    s === TaskState.Queued ? null : now,
    id,
    lease,
  ]);
}

/** Cancels every queued or running task of a job. */
export function cancelOpenTasks(jobId: string, now: number): Statement {
  return statement(
    'cancel_open_tasks',
    `update tasks set state = '${TaskState.Cancelled}', lease = null, lease_expires_at = null, ` +
      `updated_at = $2, finished_at = $2 where job_id = $1 and state in (${QUEUED}, ${RUNNING})`,
    [jobId, now],
  );
}

/** A job's tasks' id, kind, index, state and result (what the manifest tasks need), in claim order. */
export function taskResults(jobId: string): Statement {
  return statement(
    'task_results',
    'select id, kind, idx, state, result from tasks where job_id = $1 order by ord',
    [jobId],
  );
}

/** Brief rows (no payload or result) of the tasks of several jobs, in claim order. */
export function taskBriefs(jobIds: readonly string[]): Statement {
  return statement(
    'task_briefs',
    'select id, job_id, kind, idx, state, progress, attempts, last_error, lease_owner from tasks ' +
      'where job_id = any($1::text[]) order by job_id, ord',
    [jobIds],
  );
}

/** Whether any task is runnable at `now` (one row or none). */
export function anyRunnable(now: number): Statement {
  return statement(
    'any_runnable',
    `select 1 as one from tasks where state = ${QUEUED} and run_after <= $1 limit 1`,
    [now],
  );
}

/**
 * A heartbeat: extends a valid lease held by `owner` and records progress, and
 * reads whether the task or its job was stopped (for when it was not extended).
 * No row when there is no such task.
 */
export function heartbeatTask(
  id: string,
  lease: string,
  owner: string,
  now: number,
  leaseMs: number,
  progress: number,
): Statement {
  return statement(
    'heartbeat',
    'with extended as (update tasks set lease_expires_at = $1, progress = $2, updated_at = $3 ' +
      `where id = $4 and lease = $5 and lease_owner = $6 and state = ${RUNNING} and lease_expires_at >= $3 ` +
      'returning id) ' +
      'select (select count(*) from extended)::int as extended, t.state as task_state, j.state as job_state ' +
      'from tasks t left join jobs j on j.id = t.job_id where t.id = $4',
    [now + leaseMs, progress, now, id, lease, owner],
  );
}

/** How many tasks are in each state. */
export function taskStates(): Statement {
  return statement('task_states', 'select state, count(*)::int as n from tasks group by state', []);
}
