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

  /** Records the host and slots a worker reported (creating its row if it was never seen). */
  async profile(id: string, now: number, host: string, slots: number): Promise<void> {
    await this.db
      .insertInto('workers')
      .values({ id, first_seen_at: now, last_seen_at: now, claims: 0, host, slots })
      .onConflict((oc) => oc.column('id').doUpdateSet({ host, slots, last_seen_at: now }))
      .execute();
  }

  async list(): Promise<WorkerRow[]> {
    return this.db.selectFrom('workers').selectAll().orderBy('id').execute();
  }

  /** Runs that succeeded, per worker that has any. */
  async doneCounts(): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('task_runs')
      .select(['worker_id', (eb) => eb.fn.countAll().as('done')])
      .where('outcome', '=', 'succeeded')
      .groupBy('worker_id')
      .execute();
    return new Map(rows.map((r) => [r.worker_id, Number(r.done)]));
  }

  /** The running tasks and the worker holding each (heartbeats keep `updated_at` fresh). */
  async runningTasks(): Promise<
    {
      id: string;
      job_id: string;
      kind: string;
      idx: number;
      lease_owner: string | null;
      updated_at: number;
    }[]
  > {
    return this.db
      .selectFrom('tasks')
      .select(['id', 'job_id', 'kind', 'idx', 'lease_owner', 'updated_at'])
      .where('state', '=', 'running')
      .orderBy('job_id')
      .orderBy('ord')
      .execute();
  }
}
