// SQLite statements on the tasks table, prepared once per connection. Every
// update of a running task matches its lease token, so a worker that lost its
// lease can never change the task again. States are literals in the SQL: the
// partial indexes tasks_claim (queued) and tasks_lease (running) must match.
import type SqliteDatabase from 'better-sqlite3';
import type { TaskResult } from '../../../coordinator/decide.js';
import { CLAIMED_COLUMNS, type ClaimedRow, type NewTask, TASK_COLUMNS, type TaskRow } from '../../schema.js';
import type { ClaimRequest, RunningTask, TaskBrief } from '../../task-store.js';

/** What a finish or expiry reads of its task. */
export type LeasedTask = Pick<
  TaskRow,
  | 'id'
  | 'job_id'
  | 'kind'
  | 'idx'
  | 'payload'
  | 'state'
  | 'attempts'
  | 'max_attempts'
  | 'lease'
  | 'lease_owner'
  | 'lease_expires_at'
>;
const LEASED =
  'id, job_id, kind, idx, payload, state, attempts, max_attempts, lease, lease_owner, lease_expires_at';
const BRIEF = 'id, job_id, kind, idx, state, progress, attempts, last_error, lease_owner';
const CLEAR_LEASE = 'lease = null, lease_expires_at = null';

export class TaskStatements {
  private readonly insertRow: SqliteDatabase.Statement;
  private readonly claimNext: SqliteDatabase.Statement;
  private readonly runnable: SqliteDatabase.Statement;
  private readonly leased: SqliteDatabase.Statement;
  private readonly extend: SqliteDatabase.Statement;
  private readonly stopped: SqliteDatabase.Statement;
  private readonly toSucceeded: SqliteDatabase.Statement;
  private readonly toQueued: SqliteDatabase.Statement;
  private readonly toFailed: SqliteDatabase.Statement;
  private readonly toCancelled: SqliteDatabase.Statement;
  private readonly cancelJob: SqliteDatabase.Statement;
  private readonly expiredRows: SqliteDatabase.Statement;
  private readonly resume: SqliteDatabase.Statement;
  private readonly resultsOf: SqliteDatabase.Statement;
  private readonly briefsOf: SqliteDatabase.Statement;
  private readonly briefsOfNewest: SqliteDatabase.Statement;
  private readonly runningRows: SqliteDatabase.Statement;
  private readonly perStateRows: SqliteDatabase.Statement;

  constructor(conn: SqliteDatabase.Database) {
    this.insertRow = conn.prepare(
      `insert into tasks (${TASK_COLUMNS.join(', ')}) values (${TASK_COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    this.claimNext = conn.prepare(
      "update tasks set state = 'running', attempts = attempts + 1, lease = @lease, lease_owner = @workerId, " +
        'lease_expires_at = @expires, progress = 0, updated_at = @now ' +
        "where id = (select id from tasks where state = 'queued' and run_after <= @now " +
        "order by job_created_at, job_id, ord limit 1) and state = 'queued' " +
        `returning ${CLAIMED_COLUMNS.join(', ')}`,
    );
    this.runnable = conn.prepare("select 1 from tasks where state = 'queued' and run_after <= ? limit 1");
    this.leased = conn.prepare(`select ${LEASED} from tasks where id = ?`);
    this.extend = conn.prepare(
      'update tasks set lease_expires_at = @expires, progress = @progress, updated_at = @now ' +
        "where id = @id and lease = @lease and lease_owner = @workerId and state = 'running' and lease_expires_at >= @now",
    );
    this.stopped = conn.prepare(
      'select tasks.state as task_state, jobs.state as job_state from tasks left join jobs on jobs.id = tasks.job_id where tasks.id = ?',
    );
    this.toSucceeded = conn.prepare(
      `update tasks set state = 'succeeded', result = @result, progress = 1, ${CLEAR_LEASE}, ` +
        'finished_at = @now, updated_at = @now where id = @id and lease = @lease',
    );
    this.toQueued = conn.prepare(
      `update tasks set state = 'queued', ${CLEAR_LEASE}, run_after = @runAfter, attempts = @attempts, ` +
        'last_error = coalesce(@lastError, last_error), progress = 0, updated_at = @now where id = @id and lease = @lease',
    );
    this.toFailed = conn.prepare(
      `update tasks set state = 'failed', ${CLEAR_LEASE}, last_error = @lastError, finished_at = @now, ` +
        'updated_at = @now where id = @id and lease = @lease',
    );
    this.toCancelled = conn.prepare(
      `update tasks set state = 'cancelled', ${CLEAR_LEASE}, finished_at = @now, updated_at = @now ` +
        'where id = @id and lease = @lease',
    );
    this.cancelJob = conn.prepare(
      `update tasks set state = 'cancelled', ${CLEAR_LEASE}, finished_at = ?, updated_at = ? ` +
        "where job_id = ? and state in ('queued', 'running')",
    );
    this.expiredRows = conn.prepare(
      "select id from tasks where state = 'running' and lease_expires_at < ? order by lease_expires_at limit ?",
    );
    this.resume = conn.prepare(
      "update tasks set lease_expires_at = ?, updated_at = ? where state = 'running' and lease_expires_at < ?",
    );
    this.resultsOf = conn.prepare(
      "select kind, idx, state, result from tasks where job_id = ? and kind in ('encode', 'audio', 'manifest') order by ord",
    );
    this.briefsOf = conn.prepare(`select ${BRIEF} from tasks where job_id = ? order by ord`);
    this.briefsOfNewest = conn.prepare(
      `select ${BRIEF} from tasks where job_id in ` +
        '(select id from jobs order by created_at desc, id limit ?) order by job_id, ord',
    );
    this.runningRows = conn.prepare(
      "select id, job_id, kind, idx, lease_owner, updated_at from tasks where state = 'running' order by job_id, ord",
    );
    this.perStateRows = conn.prepare('select state, count(*) as n from tasks group by state');
  }

  insert(rows: readonly NewTask[]): void {
    for (const row of rows) this.insertRow.run(row);
  }

  /** Leases the next runnable task (see TaskStore.claim); only the tasks row. */
  claim(req: ClaimRequest): ClaimedRow | undefined {
    const { lease, workerId, now } = req;
    return this.claimNext.get({ lease, workerId, now, expires: now + req.leaseMs }) as ClaimedRow | undefined;
  }

  anyRunnable(now: number): boolean {
    return this.runnable.get(now) !== undefined;
  }

  /** The columns a finish or expiry checks and decides on. */
  get(id: string): LeasedTask | undefined {
    return this.leased.get(id) as LeasedTask | undefined;
  }

  /** Extends a valid lease held by `workerId`; false when it does not hold. */
  extendLease(
    id: string,
    lease: string,
    workerId: string,
    now: number,
    expires: number,
    progress: number,
  ): boolean {
    return this.extend.run({ id, lease, workerId, now, expires, progress }).changes > 0;
  }

  /** The states of a task and its job (undefined: no such task). */
  states(id: string): { task_state: string; job_state: string | null } | undefined {
    return this.stopped.get(id) as { task_state: string; job_state: string | null } | undefined;
  }

  succeeded(id: string, lease: string, now: number, result: Uint8Array): void {
    this.toSucceeded.run({ id, lease, now, result });
  }

  queued(
    id: string,
    lease: string,
    now: number,
    runAfter: number,
    attempts: number,
    lastError?: string,
  ): void {
    this.toQueued.run({ id, lease, now, runAfter, attempts, lastError: lastError ?? null });
  }

  failed(id: string, lease: string, now: number, lastError: string): void {
    this.toFailed.run({ id, lease, now, lastError });
  }

  cancelled(id: string, lease: string, now: number): void {
    this.toCancelled.run({ id, lease, now });
  }

  /** Cancels every queued or running task of a job. */
  cancelOpen(jobId: string, now: number): void {
    this.cancelJob.run(now, now, jobId);
  }

  /** Ids of running tasks whose lease expired before `now`, the oldest expiry first. */
  expired(now: number, limit: number): string[] {
    return (this.expiredRows.all(now, limit) as { id: string }[]).map((r) => r.id);
  }

  /** Moves every running lease expiring before `until` to `until`; how many moved. */
  resumeLeases(until: number, now: number): number {
    return this.resume.run(until, now, until).changes;
  }

  /** The encode, audio and manifest tasks of a job (what its manifest tasks are made of). */
  results(jobId: string): TaskResult[] {
    return this.resultsOf.all(jobId) as TaskResult[];
  }

  briefs(jobId: string): TaskBrief[] {
    return this.briefsOf.all(jobId) as TaskBrief[];
  }

  /** The briefs of the newest `limit` jobs' tasks (as `JobStatements.newest` lists them). */
  briefsOfNewestJobs(limit: number): TaskBrief[] {
    return this.briefsOfNewest.all(limit) as TaskBrief[];
  }

  running(): RunningTask[] {
    return this.runningRows.all() as RunningTask[];
  }

  /** How many tasks are in each state. */
  perState(): Map<string, number> {
    const rows = this.perStateRows.all() as { state: string; n: number }[];
    return new Map(rows.map((r) => [r.state, r.n]));
  }
}
