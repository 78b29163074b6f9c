// SQLite statements on task_runs (one row per claim: who ran what, and how it
// ended) and workers (seen by their polls and claims), prepared once per connection.
import type SqliteDatabase from 'better-sqlite3';
import type { WorkerRow } from '../../schema.js';
import type { RunOutcome } from '../../states.js';
import type { JobRun } from '../../task-store.js';

export class RunStatements {
  private readonly startRun: SqliteDatabase.Statement;
  private readonly endRun: SqliteDatabase.Statement;
  private readonly endJob: SqliteDatabase.Statement;
  private readonly doneRows: SqliteDatabase.Statement;
  private readonly ofJob: SqliteDatabase.Statement;

  constructor(conn: SqliteDatabase.Database) {
    this.startRun = conn.prepare(
      'insert into task_runs (lease, task_id, job_id, attempt, worker_id, started_at) values (?, ?, ?, ?, ?, ?)',
    );
    // Only the first end counts.
    this.endRun = conn.prepare(
      'update task_runs set ended_at = ?, outcome = ?, error = ? where lease = ? and ended_at is null',
    );
    this.endJob = conn.prepare(
      "update task_runs set ended_at = ?, outcome = 'cancelled', error = ? where job_id = ? and ended_at is null",
    );
    this.doneRows = conn.prepare(
      "select worker_id, count(*) as done from task_runs where outcome = 'succeeded' group by worker_id",
    );
    this.ofJob = conn.prepare(
      'select r.task_id, t.kind, t.idx, r.attempt, r.worker_id, r.started_at, r.ended_at, r.outcome, r.error ' +
        'from task_runs r join tasks t on t.id = r.task_id where r.job_id = ? order by r.started_at, r.task_id limit ?',
    );
  }

  start(lease: string, taskId: string, jobId: string, attempt: number, workerId: string, now: number): void {
    this.startRun.run(lease, taskId, jobId, attempt, workerId, now);
  }

  end(lease: string, now: number, outcome: RunOutcome, error: string | null): void {
    this.endRun.run(now, outcome, error, lease);
  }

  /** Ends every open run of a job as cancelled (the job failed or was cancelled). */
  cancelOpen(jobId: string, now: number, error: string): void {
    this.endJob.run(now, error, jobId);
  }

  /** Runs that succeeded, per worker that has any. */
  doneCounts(): Map<string, number> {
    const rows = this.doneRows.all() as { worker_id: string; done: number }[];
    return new Map(rows.map((r) => [r.worker_id, Number(r.done)]));
  }

  /** The runs of a job's tasks, with each task's kind and index, in start order. */
  ofJobInOrder(jobId: string, limit: number): JobRun[] {
    return this.ofJob.all(jobId, limit) as JobRun[];
  }
}

export class WorkerStatements {
  private readonly touchRow: SqliteDatabase.Statement;
  private readonly profileRow: SqliteDatabase.Statement;
  private readonly all: SqliteDatabase.Statement;

  constructor(conn: SqliteDatabase.Database) {
    this.touchRow = conn.prepare(
      'insert into workers (id, first_seen_at, last_seen_at, claims) values (?, ?, ?, ?) ' +
        'on conflict (id) do update set last_seen_at = excluded.last_seen_at, claims = workers.claims + excluded.claims',
    );
    this.profileRow = conn.prepare(
      'insert into workers (id, first_seen_at, last_seen_at, claims, host, slots) values (?, ?, ?, 0, ?, ?) ' +
        'on conflict (id) do update set last_seen_at = excluded.last_seen_at, host = excluded.host, slots = excluded.slots',
    );
    this.all = conn.prepare(
      'select id, first_seen_at, last_seen_at, claims, host, slots from workers order by id',
    );
  }

  /** Notes that a worker was seen, adding `claims`. */
  touch(id: string, now: number, claims: number): void {
    this.touchRow.run(id, now, now, claims);
  }

  /** Records the host and slots a worker reported (creating its row if it was never seen). */
  profile(id: string, now: number, host: string, slots: number): void {
    this.profileRow.run(id, now, now, host, slots);
  }

  list(): WorkerRow[] {
    return this.all.all() as WorkerRow[];
  }
}
