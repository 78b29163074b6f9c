// The statements that apply decide()'s effects to a job and one of its tasks,
// all sent with the COMMIT of the transaction that locked them. The task, its run
// and the job (one row each) change in one statement.
import type { Effects } from '../../coordinator/decide.js';
import { JobState, RunOutcome, TaskState } from '../states.js';
import { CHANGE_JOB, changeJob } from './jobs-sql.js';
import { END_RUN, endOpenRuns, endRun } from './runs-sql.js';
import { oneStatementText, type Statement, statement } from './statement.js';
import { CHANGE_TASK, cancelOpenTasks, changeTask, insertTasks } from './tasks-sql.js';

/** The task whose run ends, under the lease it ran with. */
export interface LeasedTask {
  id: string;
  job_id: string;
  lease: string;
}

const TASK_AND_RUN = oneStatementText([CHANGE_TASK, END_RUN]);
const TASK_RUN_AND_JOB = oneStatementText([CHANGE_TASK, END_RUN, CHANGE_JOB]);

/**
 * The writes of `effects` (the manifest task, when asked for, is already in
 * `effects.create`): the task and its run first, then the job, its other tasks
 * and the new ones.
 */
export function effectStatements(task: LeasedTask, effects: Effects, now: number): Statement[] {
  const values = [
    ...changeTask(task.id, task.lease, effects.task, now).values,
    ...endRun(task.lease, now, effects.run.outcome, effects.run.error).values,
  ];
  if (effects.job) values.push(...changeJob(task.job_id, effects.job, now).values);
  const writes = [
    effects.job
      ? statement('change_task_run_job', TASK_RUN_AND_JOB, values)
      : statement('change_task_run', TASK_AND_RUN, values),
  ];
  // The writes below change many rows (this task's among them): each its own statement, in order.
  if (effects.cancelOpenTasks !== undefined)
    writes.push(...cancelStatements(task.job_id, effects.cancelOpenTasks, now));
  if (effects.create.length > 0) writes.push(insertTasks(effects.create));
  return writes;
}

/** Cancels a job's queued and running tasks and ends their open runs (the job ended). */
export function cancelStatements(jobId: string, error: string, now: number): Statement[] {
  return [cancelOpenTasks(jobId, now), endOpenRuns(jobId, now, RunOutcome.Cancelled, error)];
}

/** A task's success that only counts toward its job: what `countSuccess` applies. */
export interface CountedSuccess {
  task: LeasedTask;
  workerId: string;
  result: Uint8Array;
  now: number;
  /** Segments and audio tasks this success adds to the job's counts. */
  segments: number;
  audio: number;
}

// One statement, so the job's row is locked only while it runs. It locks the job
// (FOR NO KEY UPDATE, as the UPDATE below would: claims' foreign-key checks on it
// go on) before the task, the order every other writer of both keeps. Each step
// runs only if the one before it changed its row (`exists`), so it applies whole
// or not at all: not at all when the job is no longer running, when these counts
// would finish its encodes (the manifest is the locked finish's to make), or when
// the task is no longer running under this lease and worker, valid at the finish's
// time. (The caller checked the expiry on its read, and a running lease's expiry
// should only ever move later; checked again here all the same, so that what is
// counted never rests on a read made outside this statement.)
const COUNT_SUCCESS = `
with job as (
  select id from jobs
  where id = $1 and state = '${JobState.Running}'
    and not (segments_total > 0 and segments_done + $2 = segments_total and (has_audio = 0 or audio_done + $3 = 1))
  for no key update
), task as (
  update tasks set state = '${TaskState.Succeeded}', result = $4, progress = 1, lease = null, lease_expires_at = null,
    updated_at = $5, finished_at = $5
  where id = $6 and lease = $7 and lease_owner = $8 and state = '${TaskState.Running}' and lease_expires_at >= $5
    and exists (select 1 from job)
  returning id
), run as (
  update task_runs set ended_at = $5, outcome = '${RunOutcome.Succeeded}', error = null
  where lease = $7 and ended_at is null and exists (select 1 from task)
)
update jobs set segments_done = segments_done + $2, audio_done = audio_done + $3, updated_at = $5
where id = $1 and exists (select 1 from task)
returning segments_done, segments_total, has_audio, audio_done`;

/**
 * Records `s` and adds its counts to its job, without a lock held before it: one
 * row (the job's counts after it) when it applied, none when it did not.
 */
export function countSuccess(s: CountedSuccess): Statement {
  return statement('count_success', COUNT_SUCCESS, [
    s.task.job_id,
    s.segments,
    s.audio,
    s.result,
    s.now,
    s.task.id,
    s.task.lease,
    s.workerId,
  ]);
}
