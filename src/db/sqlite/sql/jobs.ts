// SQLite statements on the jobs table, prepared once per connection.
import type SqliteDatabase from 'better-sqlite3';
import type { JobChange } from '../../../coordinator/decide.js';
import { JOB_LIST, type JobRow } from '../../schema.js';
import { isTerminalJobState } from '../../states.js';

export class JobStatements {
  private readonly insertRow: SqliteDatabase.Statement;
  private readonly one: SqliteDatabase.Statement;
  private readonly newestRows: SqliteDatabase.Statement;
  private readonly change: SqliteDatabase.Statement;
  private readonly start: SqliteDatabase.Statement;
  private readonly perStateRows: SqliteDatabase.Statement;

  constructor(conn: SqliteDatabase.Database) {
    this.insertRow = conn.prepare(
      `insert into jobs (${JOB_LIST}) values (${JOB_LIST.split(', ')
        .map((c) => `@${c}`)
        .join(', ')})`,
    );
    this.one = conn.prepare(`select ${JOB_LIST} from jobs where id = ?`);
    this.newestRows = conn.prepare(`select ${JOB_LIST} from jobs order by created_at desc, id limit ?`);
    // One statement for every change decide() makes: the fields it leaves out keep their values.
    this.change = conn.prepare(
      'update jobs set state = coalesce(@state, state), failure_reason = coalesce(@failureReason, failure_reason), ' +
        'result = coalesce(@result, result), source = coalesce(@source, source), details = coalesce(@details, details), ' +
        'segments_total = coalesce(@segmentsTotal, segments_total), has_audio = coalesce(@hasAudio, has_audio), ' +
        'segments_done = coalesce(@segmentsDone, segments_done), audio_done = coalesce(@audioDone, audio_done), ' +
        'finished_at = coalesce(@finishedAt, finished_at), updated_at = @now where id = @id',
    );
    this.start = conn.prepare(
      "update jobs set state = 'running', updated_at = ? where id = ? and state = 'queued'",
    );
    this.perStateRows = conn.prepare('select state, count(*) as n from jobs group by state');
  }

  insert(row: JobRow): void {
    this.insertRow.run(row);
  }

  get(id: string): JobRow | undefined {
    return this.one.get(id) as JobRow | undefined;
  }

  /** The newest jobs first. */
  newest(limit: number): JobRow[] {
    return this.newestRows.all(limit) as JobRow[];
  }

  /** Applies a change decided by decide.ts (a terminal state also sets finished_at). */
  apply(id: string, c: JobChange, now: number): void {
    this.change.run({
      id,
      now,
      state: c.state ?? null,
      failureReason: c.failureReason ?? null,
      result: c.result ?? null,
      source: c.source ?? null,
      details: c.details ?? null,
      segmentsTotal: c.segmentsTotal ?? null,
      hasAudio: c.hasAudio ?? null,
      segmentsDone: c.segmentsDone ?? null,
      audioDone: c.audioDone ?? null,
      finishedAt: c.state && isTerminalJobState(c.state) ? now : null,
    });
  }

  /** How many jobs are in each state. */
  perState(): Map<string, number> {
    const rows = this.perStateRows.all() as { state: string; n: number }[];
    return new Map(rows.map((r) => [r.state, r.n]));
  }

  /** A queued job is running once its split is claimed. */
  started(id: string, now: number): void {
    this.start.run(now, id);
  }
}
