// SQLite statements on outputs: which job owns an output location (the newest
// job submitted into it), prepared once per connection.
import type SqliteDatabase from 'better-sqlite3';

export class OutputStatements {
  private readonly ownerRow: SqliteDatabase.Statement;
  private readonly take: SqliteDatabase.Statement;
  private readonly replace: SqliteDatabase.Statement;

  constructor(conn: SqliteDatabase.Database) {
    this.ownerRow = conn.prepare('select job_id from outputs where location = ?');
    this.take = conn.prepare(
      'insert into outputs (location, job_id, updated_at) values (?, ?, ?) on conflict (location) do nothing',
    );
    this.replace = conn.prepare(
      'insert into outputs (location, job_id, updated_at) values (?, ?, ?) ' +
        'on conflict (location) do update set job_id = excluded.job_id, updated_at = excluded.updated_at',
    );
  }

  /** The id of the job that owns `location`, if any. */
  owner(location: string): string | undefined {
    return (this.ownerRow.get(location) as { job_id: string } | undefined)?.job_id;
  }

  /** Makes `jobId` the owner: always when `replace`, else only if nobody owns it. Whether it is now the owner. */
  claim(location: string, jobId: string, now: number, replace: boolean): boolean {
    return (replace ? this.replace : this.take).run(location, jobId, now).changes > 0;
  }
}
