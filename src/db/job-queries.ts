// Queries on the jobs table.
import type { Kysely } from 'kysely';
import type { SqlDialect } from './dialect.js';
import type { RawSql } from './raw-sql.js';
import { type Database, JOB_LIST, type JobRow, type JobUpdate, type NewJob } from './schema.js';
import { JobState, TaskKind } from './states.js';

export class JobQueries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly raw: RawSql,
  ) {}

  /** Inserts a new job. */
  async insert(row: NewJob): Promise<void> {
    await this.db.insertInto('jobs').values(row).execute();
  }

  /** One job; `lock` holds its row until the transaction ends (serializes changes to one job). */
  async get(id: string, options: { lock?: boolean } = {}): Promise<JobRow | undefined> {
    // Hand-written: every finish reads (and locks) its job.
    const lock = options.lock ? this.dialect.forUpdate : '';
    const rows = await this.raw.rows<JobRow>(`select ${JOB_LIST} from jobs where id = ?${lock}`, [id]);
    return rows[0];
  }

  /** The job of a task, locked until the transaction ends (the lock order: job, then its tasks). */
  async lockForTask(taskId: string): Promise<JobRow | undefined> {
    const rows = await this.raw.rows<JobRow>(
      `select ${JOB_LIST} from jobs where id = (select job_id from tasks where id = ?)${this.dialect.forUpdate}`,
      [taskId],
    );
    return rows[0];
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
    // Hand-written: every encode's finish counts. `what` is one of two column names.
    const column = what === 'audio_done' ? 'audio_done' : 'segments_done';
    const rows = await this.raw.rows<JobRow>(
      `update jobs set ${column} = ${column} + ?, updated_at = ? where id = ? returning ${JOB_LIST}`,
      [by, now, id],
    );
    return rows[0];
  }

  /**
   * Running jobs, unchanged since `before`, whose encodes (and audio) are all
   * counted done but that have no manifest task: left so by a coordinator that
   * stopped between a finish and its follow-up (PostgreSQL counts apart).
   */
  async countedWithoutManifest(before: number, limit: number): Promise<string[]> {
    const rows = await this.raw.rows<{ id: string }>(
      `select id from jobs where state = '${JobState.Running}' and segments_total > 0 ` +
        'and segments_done >= segments_total and (has_audio = 0 or audio_done >= 1) and updated_at < ? ' +
        `and not exists (select 1 from tasks where tasks.job_id = jobs.id and tasks.kind = '${TaskKind.Manifest}') ` +
        'limit ?',
      [before, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Updates a job, only while it is in one of `from` (when given); returns whether it changed. */
  async update(id: string, patch: JobUpdate, from?: readonly JobState[]): Promise<boolean> {
    let q = this.db.updateTable('jobs').set(patch).where('id', '=', id);
    if (from) q = q.where('state', 'in', from);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
