// Statements on the jobs table and on the output locations jobs own.
import type { JobChange } from '../../coordinator/decide.js';
import { JOB_LIST, type JobRow } from '../schema.js';
import { isTerminalJobState } from '../states.js';
import { type Statement, statement } from './statement.js';

/** One job. */
export function getJob(id: string): Statement {
  return statement('job', `select ${JOB_LIST} from jobs where id = $1`, [id]);
}

/** One job, locked until the transaction ends (serializes the changes to one job). */
export function lockJob(id: string): Statement {
  return statement('lock_job', `select ${JOB_LIST} from jobs where id = $1 for update`, [id]);
}

/** The newest jobs first. */
export function listJobs(limit: number): Statement {
  return statement('jobs', `select ${JOB_LIST} from jobs order by created_at desc, id limit $1`, [limit]);
}

/** Inserts a new job. */
export function insertJob(row: JobRow): Statement {
  return statement(
    'insert_job',
    `insert into jobs (${JOB_LIST}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      row.id,
      row.state,
      row.details,
      row.source,
      row.result,
      row.failure_reason,
      row.segments_total,
      row.segments_done,
      row.has_audio,
      row.audio_done,
      row.created_at,
      row.updated_at,
      row.finished_at,
    ],
  );
}

/** The text of `changeJob`. */
export const CHANGE_JOB =
  'update jobs set state = coalesce($2, state), failure_reason = coalesce($3, failure_reason), ' +
  'result = coalesce($4, result), source = coalesce($5, source), ' +
  'segments_total = coalesce($6, segments_total), has_audio = coalesce($7, has_audio), ' +
  'segments_done = coalesce($8, segments_done), audio_done = coalesce($9, audio_done), ' +
  'updated_at = $10, finished_at = coalesce($11, finished_at), details = coalesce($12, details) where id = $1';

/** Applies decide()'s change to a job (locked by the caller); a terminal state also sets finished_at. */
export function changeJob(id: string, change: JobChange, now: number): Statement {
  const ends = change.state !== undefined && isTerminalJobState(change.state);
  return statement('change_job', CHANGE_JOB, [
    id,
    change.state ?? null,
    change.failureReason ?? null,
    change.result ?? null,
    change.source ?? null,
    change.segmentsTotal ?? null,
    change.hasAudio ?? null,
    change.segmentsDone ?? null,
    change.audioDone ?? null,
    now,
    ends ? now : null,
    change.details ?? null,
  ]);
}

/** Who owns an output location, and that job's state (absent when its row is gone). */
export function outputOwner(location: string): Statement {
  return statement(
    'output_owner',
    'select o.job_id, j.state from outputs o left join jobs j on j.id = o.job_id where o.location = $1',
    [location],
  );
}

/**
 * Makes `jobId` the owner of `location`: always when `replace`, else only if
 * nobody owns it yet. Returns a row when it is now the owner.
 */
export function takeOutput(location: string, jobId: string, now: number, replace: boolean): Statement {
  return replace
    ? statement(
        'take_output',
        'insert into outputs (location, job_id, updated_at) values ($1, $2, $3) on conflict (location) ' +
          'do update set job_id = excluded.job_id, updated_at = excluded.updated_at returning job_id',
        [location, jobId, now],
      )
    : statement(
        'take_free_output',
        'insert into outputs (location, job_id, updated_at) values ($1, $2, $3) ' +
          'on conflict (location) do nothing returning job_id',
        [location, jobId, now],
      );
}

/** How many jobs are in each state. */
export function jobStates(): Statement {
  return statement('job_states', 'select state, count(*)::int as n from jobs group by state', []);
}
