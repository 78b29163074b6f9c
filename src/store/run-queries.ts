// Queries on task_runs (one row per claim: the audit trail of who ran what) and
// workers (seen by their GetTask calls).
import type { Kysely } from 'kysely';
import type { Database, TaskRunRow, WorkerRow } from './schema.js';
import type { RunOutcome } from './states.js';

export class RunQueries {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records the start of a claim. */
  async start(row: Omit<TaskRunRow, 'ended_at' | 'outcome' | 'error'>): Promise<void> {
    await this.db
      .insertInto('task_runs')
      .values({ ...row, ended_at: null, outcome: null, error: null })
      .execute();
  }

  /** Records how a claim ended (only the first end counts). */
  async end(lease: string, now: number, outcome: RunOutcome, error?: string): Promise<void> {
    await this.db
      .updateTable('task_runs')
      .set({ ended_at: now, outcome, error: error ?? null })
      .where('lease', '=', lease)
      .where('ended_at', 'is', null)
      .execute();
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
  constructor(private readonly db: Kysely<Database>) {}

  /** Notes that a worker was seen; counts a claim when `claimed`. */
  async touch(id: string, now: number, claimed = false): Promise<void> {
    await this.db
      .insertInto('workers')
      .values({ id, first_seen_at: now, last_seen_at: now, claims: claimed ? 1 : 0 })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          last_seen_at: now,
          claims: claimed ? eb('workers.claims', '+', 1) : eb.ref('workers.claims'),
        })),
      )
      .execute();
  }

  async list(): Promise<WorkerRow[]> {
    return this.db.selectFrom('workers').selectAll().orderBy('id').execute();
  }
}
