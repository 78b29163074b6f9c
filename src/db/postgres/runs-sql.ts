// Statements on task_runs (one row per claim: who ran what, how it ended) and
// workers (seen by their polls and claims). A claim's run and worker rows are
// written by the claim itself (claim-sql.ts).
import type { RunOutcome } from '../states.js';
import { type Statement, statement } from './statement.js';

/** The text of `endRun`. */
export const END_RUN =
  'update task_runs set ended_at = $1, outcome = $2, error = $3 where lease = $4 and ended_at is null';

/** Records how the run under `lease` ended (only the first end counts). */
export function endRun(lease: string, now: number, outcome: RunOutcome, error: string | null): Statement {
  return statement('end_run', END_RUN, [now, outcome, error, lease]);
}

/** Ends every open run of a job (the job was cancelled or failed). */
export function endOpenRuns(jobId: string, now: number, outcome: RunOutcome, error: string): Statement {
  return statement(
    'end_open_runs',
    'update task_runs set ended_at = $2, outcome = $3, error = $4 where job_id = $1 and ended_at is null',
    [jobId, now, outcome, error],
  );
}

/** The run under `lease`: how it ended so far (a finish run again after a lost COMMIT finds its own). */
export function getRun(lease: string): Statement {
  return statement(
    'run',
    'select lease, task_id, job_id, attempt, worker_id, started_at, ended_at, outcome, error ' +
      'from task_runs where lease = $1',
    [lease],
  );
}

/** The runs of a job's tasks, with each task's kind and index, in start order (at most `limit`). */
export function runsOfJob(jobId: string, limit: number): Statement {
  return statement(
    'runs_of_job',
    'select r.task_id, t.kind, t.idx, r.attempt, r.worker_id, r.started_at, r.ended_at, r.outcome, r.error ' +
      'from task_runs r join tasks t on t.id = r.task_id where r.job_id = $1 order by r.started_at, r.task_id limit $2',
    [jobId, limit],
  );
}

/** Every run of a job's tasks, oldest first. */
export function jobRuns(jobId: string): Statement {
  return statement(
    'job_runs',
    'select lease, task_id, job_id, attempt, worker_id, started_at, ended_at, outcome, error ' +
      'from task_runs where job_id = $1 order by started_at, lease',
    [jobId],
  );
}

/** Notes that a worker was seen (an idle poll). */
export function touchWorker(id: string, now: number): Statement {
  return statement(
    'touch_worker',
    'insert into workers (id, first_seen_at, last_seen_at, claims) values ($1, $2, $2, 0) ' +
      'on conflict (id) do update set last_seen_at = excluded.last_seen_at',
    [id, now],
  );
}

/** Records the host and slots a worker reported (creating its row if it was never seen). */
export function profileWorker(id: string, now: number, host: string, slots: number): Statement {
  return statement(
    'profile_worker',
    'insert into workers (id, first_seen_at, last_seen_at, claims, host, slots) values ($1, $2, $2, 0, $3, $4) ' +
      'on conflict (id) do update set host = excluded.host, slots = excluded.slots, last_seen_at = excluded.last_seen_at',
    [id, now, host, slots],
  );
}

/** Every worker, by id. */
export function listWorkers(): Statement {
  return statement(
    'workers',
    'select id, first_seen_at, last_seen_at, claims, host, slots from workers order by id',
    [],
  );
}

/** Runs that succeeded, per worker that has any. */
export function doneCounts(): Statement {
  return statement(
    'done_counts',
    "select worker_id, count(*)::int as done from task_runs where outcome = 'succeeded' group by worker_id",
    [],
  );
}

/** The running tasks and the worker holding each (heartbeats keep `updated_at` fresh). */
export function runningTasks(): Statement {
  return statement(
    'running_tasks',
    "select id, job_id, kind, idx, lease_owner, updated_at from tasks where state = 'running' order by job_id, ord",
    [],
  );
}
