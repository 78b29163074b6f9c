// The statements that apply decide()'s effects to a job and one of its tasks,
// all sent with the COMMIT of the transaction that locked them. The task, its run
// and the job (one row each) change in one statement.
import type { Effects } from '../../coordinator/decide.js';
import { RunOutcome } from '../states.js';
import { changeJob } from './jobs-sql.js';
import { endOpenRuns, endRun } from './runs-sql.js';
import { oneStatement, type Statement } from './statement.js';
import { cancelOpenTasks, changeTask, insertTasks } from './tasks-sql.js';

/** The task whose run ends, under the lease it ran with. */
export interface LeasedTask {
  id: string;
  job_id: string;
  lease: string;
}

/**
 * The writes of `effects` (the manifest task, when asked for, is already in
 * `effects.create`): the task and its run first, then the job, its other tasks
 * and the new ones.
 */
export function effectStatements(task: LeasedTask, effects: Effects, now: number): Statement[] {
  const rows = [
    changeTask(task.id, task.lease, effects.task, now),
    endRun(task.lease, now, effects.run.outcome, effects.run.error),
  ];
  if (effects.job) rows.push(changeJob(task.job_id, effects.job, now));
  // The writes below change many rows (this task's among them): each its own statement, in order.
  const writes = [oneStatement(rows)];
  if (effects.cancelOpenTasks !== undefined)
    writes.push(...cancelStatements(task.job_id, effects.cancelOpenTasks, now));
  if (effects.create.length > 0) writes.push(insertTasks(effects.create));
  return writes;
}

/** Cancels a job's queued and running tasks and ends their open runs (the job ended). */
export function cancelStatements(jobId: string, error: string, now: number): Statement[] {
  return [cancelOpenTasks(jobId, now), endOpenRuns(jobId, now, RunOutcome.Cancelled, error)];
}
