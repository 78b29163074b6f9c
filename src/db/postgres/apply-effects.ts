// The statements that apply decide()'s effects to a job and one of its tasks,
// all sent with the COMMIT of the transaction that locked them. The task, its run
// and the job (one row each) change in one statement.
import type { Effects } from '../../coordinator/decide.js';
import { RunOutcome } from '../states.js';
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
