// Queries on outputs: which job owns an output location (the newest job
// submitted into it). SubmitJob refuses a location another job owns unless the
// new job replaces it.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export class OutputQueries {
  constructor(private readonly db: Kysely<Database>) {}

  /** The id of the job that owns `location`, if any. */
  async owner(location: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('outputs')
      .select('job_id')
      .where('location', '=', location)
      .executeTakeFirst();
    return row?.job_id;
  }

  /**
   * Makes `jobId` the owner of `location`: always when `replace`, else only if
   * nobody owns it yet. Returns whether it is now the owner (one statement, so
   * two submits racing for a free location cannot both win).
   */
  async claim(location: string, jobId: string, now: number, replace: boolean): Promise<boolean> {
    const res = await this.db
      .insertInto('outputs')
      .values({ location, job_id: jobId, updated_at: now })
      .onConflict((oc) =>
        replace
          ? oc.column('location').doUpdateSet({ job_id: jobId, updated_at: now })
          : oc.column('location').doNothing(),
      )
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }
}
