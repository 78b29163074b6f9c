// Queries on the jobs table.
import type { Kysely } from 'kysely';
import type { SqlDialect } from './dialect.js';
import type { Database, JobRow, JobUpdate, NewJob } from './schema.js';
import type { JobState } from './states.js';

export class JobQueries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  /** Inserts a new job. */
  async insert(row: NewJob): Promise<void> {
    await this.db.insertInto('jobs').values(row).execute();
  }

  /** One job; `lock` holds its row until the transaction ends (serializes changes to one job). */
  async get(id: string, options: { lock?: boolean } = {}): Promise<JobRow | undefined> {
    let q = this.db.selectFrom('jobs').selectAll().where('id', '=', id);
    if (options.lock) q = this.dialect.lockRows(q);
    return q.executeTakeFirst();
  }

  /** The newest jobs first. */
  async list(limit: number): Promise<JobRow[]> {
    return this.db
      .selectFrom('jobs')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  /** Counts one more succeeded encode (or the audio) and returns the updated job. */
  async countDone(
    id: string,
    what: 'segments_done' | 'audio_done',
    now: number,
    by = 1,
  ): Promise<JobRow | undefined> {
    return this.db
      .updateTable('jobs')
      .set((eb) => ({ [what]: eb(what, '+', by), updated_at: now }))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Updates a job, only while it is in one of `from` (when given); returns whether it changed. */
  async update(id: string, patch: JobUpdate, from?: readonly JobState[]): Promise<boolean> {
    let q = this.db.updateTable('jobs').set(patch).where('id', '=', id);
    if (from) q = q.where('state', 'in', from);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
