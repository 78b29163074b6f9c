// Queries on task_runs (one row per claim: the audit trail of who ran what) and
// workers (seen by their GetTask calls).
import type { Kysely } from 'kysely';
import type { RawSql } from './raw-sql.js';
import type { Database, TaskRunRow, WorkerRow } from './schema.js';
import type { RunOutcome } from './states.js';

/** Records the start of a claim (hand-written: part of every claim). */
export const START_RUN =
  'insert into task_runs (lease, task_id, job_id, attempt, worker_id, started_at) values (?, ?, ?, ?, ?, ?)';
/** Notes that a worker was seen, adding its claims. */
export const TOUCH_WORKER =
  'insert into workers (id, first_seen_at, last_seen_at, claims) values (?, ?, ?, ?) ' +
  'on conflict (id) do update set last_seen_at = excluded.last_seen_at, claims = workers.claims + excluded.claims';
/** Records how a claim ended (only the first end counts). */
export const END_RUN =
  'update task_runs set ended_at = ?, outcome = ?, error = ? where lease = ? and ended_at is null';

export class RunQueries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly raw: RawSql,
  ) {}

  /** Records the start of a claim. */
  async start(row: Omit<TaskRunRow, 'ended_at' | 'outcome' | 'error'>): Promise<void> {
    await this.raw.run(START_RUN, [
      row.lease,
      row.task_id,
      row.job_id,
      row.attempt,
      row.worker_id,
      row.started_at,
    ]);
  }

  /** Records how a claim ended (only the first end counts). */
  async end(lease: string, now: number, outcome: RunOutcome, error?: string): Promise<void> {
    await this.raw.run(END_RUN, [now, outcome, error ?? null, lease]);
  }

  /** Ends every open run of a job (the job was cancelled or failed). */
  async endOpenForJob(jobId: string, now: number, outcome: RunOutcome, error: string): Promise<void> {
    await this.db
      .updateTable('task_runs')
      .set({ ended_at: now, outcome, error })
      .where('job_id', '=', jobId)
      .where('ended_at', 'is', null)
      .execute();
  }

  /** Every run of a job's tasks, oldest first. */
  async forJob(jobId: string): Promise<TaskRunRow[]> {
    return this.db
      .selectFrom('task_runs')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('started_at')
      .orderBy('lease')
      .execute();
  }
}

export class WorkerQueries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly raw: RawSql,
  ) {}

  /** Notes that a worker was seen; counts a claim when `claimed`. */
  async touch(id: string, now: number, claimed = false): Promise<void> {
    await this.raw.run(TOUCH_WORKER, [id, now, now, claimed ? 1 : 0]);
  }

  async list(): Promise<WorkerRow[]> {
    return this.db.selectFrom('workers').selectAll().orderBy('id').execute();
  }
}
