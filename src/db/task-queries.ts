// Queries on the tasks table: inserts, the atomic claim, lease-guarded updates.
// Every update of a running task matches its lease token, so a worker that lost
// its lease can never change the task again.
import type { Kysely } from 'kysely';
import type { SqlDialect } from './dialect.js';
import { type RawSql, sqlText } from './raw-sql.js';
import { END_RUN, START_RUN, TOUCH_WORKER } from './run-queries.js';
import {
  CLAIMED_COLUMNS,
  type ClaimedRow,
  type Database,
  type JobRow,
  type NewTask,
  TASK_LIST,
  type TaskRow,
  type TaskUpdate,
} from './schema.js';
import { RunOutcome, TaskState } from './states.js';

/** The columns needed for progress and summaries (no payload or result). */
export type TaskBrief = Pick<
  TaskRow,
  'id' | 'job_id' | 'kind' | 'idx' | 'state' | 'progress' | 'attempts' | 'last_error' | 'lease_owner'
>;

export interface ClaimRequest {
  now: number;
  workerId: string;
  /** Fresh lease token. */
  lease: string;
  leaseMs: number;
}

const INSERT_CHUNK = 200;

// The hot statements are hand-written (raw-sql.ts); states are literals in them.
const RUNNING = `'${TaskState.Running}'`;
const QUEUED = `'${TaskState.Queued}'`;

/** The UPDATE of a claim (`lock`: the dialect's FOR UPDATE SKIP LOCKED); `extra` adds to its WHERE. */
function claimUpdate(lock: string, extra = ''): string {
  return (
    `update tasks set state = ${RUNNING}, attempts = attempts + 1, lease = ?, lease_owner = ?, ` +
    'lease_expires_at = ?, progress = 0, updated_at = ? ' +
    `where id = (select id from tasks where state = ${QUEUED} and run_after <= ? ` +
    `order by job_created_at, job_id, ord limit 1${lock}) and state = ${QUEUED}${extra} returning ${CLAIMED_LIST}`
  );
}

/** The parameters of `claimUpdate`. */
function claimParams(req: ClaimRequest): unknown[] {
  return [req.lease, req.workerId, req.now + req.leaseMs, req.now, req.now];
}

/**
 * PostgreSQL: CTEs that record the runs and the workers of the claims made by CTE
 * `claimed` (one claim, or several, some perhaps for the same worker).
 */
function recordClaim(claimed: string): string {
  return (
    `${claimed}_run as (insert into task_runs (lease, task_id, job_id, attempt, worker_id, started_at) ` +
    `select lease, id, job_id, attempts, lease_owner, updated_at from ${claimed}), ` +
    `${claimed}_seen as (insert into workers (id, first_seen_at, last_seen_at, claims) ` +
    `select lease_owner, max(updated_at), max(updated_at), count(*) from ${claimed} group by lease_owner ` +
    'on conflict (id) do update set last_seen_at = excluded.last_seen_at, claims = workers.claims + excluded.claims)'
  );
}

/** A finished task's columns and its `n_`-prefixed next task's (absent: all null) as two rows. */
function splitNext(row: Record<string, unknown>): { task: FinishedTask; next?: ClaimedRow } {
  const task = {} as Record<string, unknown>;
  const next = {} as Record<string, unknown>;
  for (const k of FINISHED_COLUMNS) task[k] = row[k];
  for (const k of CLAIMED_COLUMNS) next[k] = row[`n_${k}`];
  return { task: task as FinishedTask, next: next.id == null ? undefined : (next as ClaimedRow) };
}

/** A task's success as a worker reported it. */
export interface Success {
  id: string;
  lease: string;
  workerId: string;
  kind: string;
  now: number;
  result: Uint8Array;
}

/** The parameters of `succeedUpdate`. */
function successParams(s: Success): unknown[] {
  return [s.result, s.now, s.now, s.id, s.lease, s.workerId, s.kind, s.now];
}

/** A task's kind, index and result. */
export type TaskResult = Pick<TaskRow, 'kind' | 'idx' | 'result'>;

/**
 * What a counted finish returns of its task: what the follow-up and the log
 * need, the claim's columns but the lease and times (and not the result it was
 * just given).
 */
const NOT_FINISHED = ['lease', 'created_at', 'updated_at'] as const;
export type FinishedTask = Omit<ClaimedRow, (typeof NOT_FINISHED)[number]>;
const FINISHED_COLUMNS = CLAIMED_COLUMNS.filter(
  (c) => !(NOT_FINISHED as readonly string[]).includes(c),
) as readonly (keyof FinishedTask)[];
const FINISHED_LIST = FINISHED_COLUMNS.join(', ');
const CLAIMED_LIST = CLAIMED_COLUMNS.join(', ');

/**
 * The UPDATE recording a task's success (lease-guarded); `extra` adds to its
 * WHERE. Returns every column, or (`finished`) those of a FinishedTask.
 */
function succeedUpdate(extra: string, finished = false): string {
  return (
    `update tasks set state = '${TaskState.Succeeded}', result = ?, progress = 1, lease = null, ` +
    'lease_expires_at = null, finished_at = ?, updated_at = ? ' +
    `where id = ? and lease = ? and lease_owner = ? and kind = ? and state = ${RUNNING} ` +
    `and lease_expires_at >= ?${extra} returning ${finished ? FINISHED_LIST : TASK_LIST}`
  );
}

/** A job's counts that decide whether all its encodes (and audio) are done. */
export type JobCounts = Pick<JobRow, 'segments_done' | 'segments_total' | 'has_audio' | 'audio_done'>;

interface CountColumns {
  c_segments_done: number;
  c_segments_total: number;
  c_has_audio: number;
  c_audio_done: number;
}

/** SET clauses of lease-guarded updates, by the patch's columns. */
const setClauses = new Map<string, string>();

function setClause(columns: string[]): string {
  const key = columns.join(',');
  let clause = setClauses.get(key);
  if (clause === undefined) {
    // Column names come from TaskUpdate keys in our own code, never from requests.
    for (const c of columns) if (!/^[a-z_]+$/.test(c)) throw new Error(`bad column ${c}`);
    clause = columns.map((c) => `${c} = ?`).join(', ');
    setClauses.set(key, clause);
  }
  return clause;
}

export class TaskQueries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly raw: RawSql,
  ) {}

  /** Inserts tasks (in chunks, to stay under parameter limits). */
  async insert(rows: NewTask[]): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await this.db
        .insertInto('tasks')
        .values(rows.slice(i, i + INSERT_CHUNK))
        .execute();
    }
  }

  async get(id: string): Promise<TaskRow | undefined> {
    return (await this.raw.rows<TaskRow>(`select ${TASK_LIST} from tasks where id = ?`, [id]))[0];
  }

  /** What the manifest needs of a job's tasks: kind, index and result (not the payloads), in claim order. */
  async results(jobId: string): Promise<TaskResult[]> {
    return this.db
      .selectFrom('tasks')
      .select(['kind', 'idx', 'result'])
      .where('job_id', '=', jobId)
      .orderBy('ord')
      .execute();
  }

  /** Brief rows of the tasks of several jobs. */
  async briefs(jobIds: readonly string[]): Promise<TaskBrief[]> {
    if (jobIds.length === 0) return [];
    return this.db
      .selectFrom('tasks')
      .select(['id', 'job_id', 'kind', 'idx', 'state', 'progress', 'attempts', 'last_error', 'lease_owner'])
      .where('job_id', 'in', jobIds)
      .orderBy('ord')
      .execute();
  }

  /** Whether any task is runnable at `now` (a read: lets an idle poll skip the claim's write transaction). */
  async anyRunnable(now: number): Promise<boolean> {
    const rows = await this.raw.rows(
      `select id from tasks where state = ${QUEUED} and run_after <= ? limit 1`,
      [now],
    );
    return rows.length > 0;
  }

  /**
   * Leases the next runnable task (oldest job first, then claim order) to a worker in
   * one statement: `UPDATE ... WHERE id = (SELECT ... LIMIT 1 [FOR UPDATE SKIP LOCKED])
   * AND state = 'queued' RETURNING <CLAIMED_COLUMNS>`.
   */
  async claim(req: ClaimRequest): Promise<ClaimedRow | undefined> {
    const lock = this.dialect.forUpdateSkipLocked;
    return (
      await this.raw.rows<ClaimedRow>(
        sqlText(`claim${lock}`, () => claimUpdate(lock)),
        claimParams(req),
      )
    )[0];
  }

  /**
   * A claim that also records the run (task_runs) and the worker (seen, one more
   * claim): one statement on PostgreSQL, three on SQLite (call it in a transaction).
   */
  async claimAndRecord(req: ClaimRequest): Promise<ClaimedRow | undefined> {
    if (!this.dialect.writesInWith) {
      const row = await this.claim(req);
      if (!row) return undefined;
      await this.raw.run(START_RUN, [req.lease, row.id, row.job_id, row.attempts, req.workerId, req.now]);
      await this.raw.run(TOUCH_WORKER, [req.workerId, req.now, req.now, 1]);
      return row;
    }
    const lock = this.dialect.forUpdateSkipLocked;
    const sql = sqlText(
      `claimAndRecord${lock}`,
      () => `with claimed as (${claimUpdate(lock)}), ${recordClaim('claimed')} select * from claimed`,
    );
    return (await this.raw.rows<ClaimedRow>(sql, claimParams(req)))[0];
  }

  /**
   * PostgreSQL: one claim per request in one statement (polls woken together by a
   * split's tasks): leases up to `reqs.length` runnable tasks in claim order, each
   * to one request's worker under its lease, recording runs and workers as
   * `claimAndRecord` does. The rows carry the lease of the request they answer;
   * requests left without a task found nothing runnable.
   */
  async claimMany(reqs: readonly ClaimRequest[]): Promise<ClaimedRow[]> {
    const now = Math.max(...reqs.map((r) => r.now));
    const leaseMs = reqs[0]!.leaseMs;
    const sql =
      'with want as (select lease, worker_id, n from unnest(?::text[], ?::text[]) with ordinality as w(lease, worker_id, n)), ' +
      `pick as (select id from tasks where state = ${QUEUED} and run_after <= ? ` +
      `order by job_created_at, job_id, ord limit ?${this.dialect.forUpdateSkipLocked}), ` +
      'numbered as (select id, row_number() over () as n from pick), ' +
      `claimed as (update tasks set state = ${RUNNING}, attempts = attempts + 1, lease = want.lease, ` +
      'lease_owner = want.worker_id, lease_expires_at = ?, progress = 0, updated_at = ? ' +
      `from numbered join want on want.n = numbered.n where tasks.id = numbered.id and tasks.state = ${QUEUED} ` +
      `returning ${CLAIMED_COLUMNS.map((c) => `tasks.${c}`).join(', ')}), ${recordClaim('claimed')} ` +
      'select * from claimed';
    const params = [
      reqs.map((r) => r.lease),
      reqs.map((r) => r.workerId),
      now,
      reqs.length,
      now + leaseMs,
      now,
    ];
    return this.raw.rows<ClaimedRow>(sql, params);
  }

  /**
   * Extends a valid lease and records progress; false when the lease is not (or no
   * longer) valid, or (when `owner` is given) is held by another worker.
   */
  async extendLease(
    id: string,
    lease: string,
    now: number,
    leaseMs: number,
    progress: number,
    owner?: string,
  ): Promise<boolean> {
    const changed = await this.raw.run(
      sqlText(
        owner === undefined ? 'extendLease' : 'extendLeaseOf',
        () =>
          'update tasks set lease_expires_at = ?, progress = ?, updated_at = ? ' +
          `where id = ? and lease = ? and state = ${RUNNING} and lease_expires_at >= ?` +
          (owner === undefined ? '' : ' and lease_owner = ?'),
      ),
      [now + leaseMs, progress, now, id, lease, now, ...(owner === undefined ? [] : [owner])],
    );
    return changed > 0;
  }

  /**
   * Records the success of a running task of `kind` leased to `workerId` with a
   * lease still valid at `now`, and ends its run: one statement on PostgreSQL.
   * Undefined when any of that does not hold (the caller then finds out why).
   */
  async succeed(s: Success): Promise<TaskRow | undefined> {
    const params = successParams(s);
    const ended = [s.now, RunOutcome.Succeeded, null, s.lease];
    if (!this.dialect.writesInWith) {
      const row = (
        await this.raw.rows<TaskRow>(
          sqlText('succeed', () => succeedUpdate('')),
          params,
        )
      )[0];
      if (row) await this.raw.run(END_RUN, ended);
      return row;
    }
    const sql = sqlText(
      'succeedWith',
      () =>
        `with t as (${succeedUpdate('')}), r as (${END_RUN} and exists (select 1 from t)) select * from t`,
    );
    return (await this.raw.rows<TaskRow>(sql, [...params, ...ended]))[0];
  }

  /**
   * The usual finish of an encode or audio task. PostgreSQL: one statement
   * (autocommit: one round trip) that locks the job row (the lock order: job, then
   * task), records the success and ends the run as `succeed` does, and adds `by`
   * to the job's `column`. With `next`, also claims the worker's next task as
   * `claimAndRecord` does (only when the success holds). SQLite: the same as
   * statements in the caller's transaction. Undefined when the success does not
   * hold (nothing changed).
   */
  async succeedCounting(
    s: Success,
    column: 'segments_done' | 'audio_done',
    by: number,
    next?: ClaimRequest,
  ): Promise<{ task: FinishedTask; counts: JobCounts; next?: ClaimedRow } | undefined> {
    const col = column === 'audio_done' ? 'audio_done' : 'segments_done';
    if (!this.dialect.writesInWith) return this.succeedCountingInTransaction(s, col, by, next);
    const lock = this.dialect.forUpdateSkipLocked;
    const sql = sqlText(
      `succeedCounting ${col} ${!!next}${lock}`,
      () =>
        `with j as (select id from jobs where id = (select job_id from tasks where id = ?)${this.dialect.forUpdate}), ` +
        `t as (${succeedUpdate(' and exists (select 1 from j)', true)}), ` +
        `r as (${END_RUN} and exists (select 1 from t)), ` +
        `c as (update jobs set ${col} = ${col} + ?, updated_at = ? where id = (select job_id from t) ` +
        'returning segments_done as c_segments_done, segments_total as c_segments_total, ' +
        'has_audio as c_has_audio, audio_done as c_audio_done)' +
        (next
          ? `, n as (${claimUpdate(lock, ' and exists (select 1 from t)')}), ${recordClaim('n')} ` +
            `select t.*, c.*, ${CLAIMED_COLUMNS.map((k) => `n.${k} as n_${k}`).join(', ')} from t cross join c left join n on true`
          : ' select * from t, c'),
    );
    const { id, lease, now } = s;
    const params = [id, ...successParams(s), now, RunOutcome.Succeeded, null, lease, by, now];
    if (next) params.push(...claimParams(next));
    const row = (await this.raw.rows<TaskRow & CountColumns & Record<string, unknown>>(sql, params))[0];
    if (!row) return undefined;
    const { c_segments_done, c_segments_total, c_has_audio, c_audio_done, ...rest } = row;
    return {
      ...(next ? splitNext(rest) : { task: rest }),
      counts: {
        segments_done: Number(c_segments_done),
        segments_total: Number(c_segments_total),
        has_audio: Number(c_has_audio),
        audio_done: Number(c_audio_done),
      },
    };
  }

  /**
   * SQLite: `succeedCounting` as statements in the caller's transaction (which
   * holds the database: no job lock to take first).
   */
  private async succeedCountingInTransaction(
    s: Success,
    col: 'segments_done' | 'audio_done',
    by: number,
    next?: ClaimRequest,
  ): Promise<{ task: FinishedTask; counts: JobCounts; next?: ClaimedRow } | undefined> {
    const succeed = sqlText('succeedFinished', () => succeedUpdate('', true));
    const task = (await this.raw.rows<FinishedTask>(succeed, successParams(s)))[0];
    if (!task) return undefined;
    await this.raw.run(END_RUN, [s.now, RunOutcome.Succeeded, null, s.lease]);
    const counts = (
      await this.raw.rows<JobCounts>(
        sqlText(
          `count ${col}`,
          () =>
            `update jobs set ${col} = ${col} + ?, updated_at = ? where id = ? ` +
            'returning segments_done, segments_total, has_audio, audio_done',
        ),
        [by, s.now, task.job_id],
      )
    )[0];
    // tasks.job_id references jobs: a task without its job is a broken database.
    if (!counts) throw new Error(`job ${task.job_id} of task ${task.id} is missing`);
    return { task, counts, next: next && (await this.claimAndRecord(next)) };
  }

  /** Applies `patch` to a running task whose lease is `lease` and still valid at `now`; the updated row, or undefined. */
  async updateLeased(
    id: string,
    lease: string,
    now: number,
    patch: TaskUpdate,
  ): Promise<TaskRow | undefined> {
    return this.updateRunning(id, lease, now, patch, '>=');
  }

  /** Moves the lease expiry of every running task to at least `until`; returns how many moved. */
  async extendRunning(until: number, now: number): Promise<number> {
    return this.raw.run(
      `update tasks set lease_expires_at = ?, updated_at = ? where state = ${RUNNING} and lease_expires_at < ?`,
      [until, now, until],
    );
  }

  /** Running tasks whose lease expired before `now`. */
  async expired(now: number, limit: number): Promise<Pick<TaskRow, 'id' | 'job_id' | 'lease'>[]> {
    // The state as a literal: the partial index tasks_lease holds the running tasks.
    return this.raw.rows(
      `select id, job_id, lease from tasks where state = ${RUNNING} and lease_expires_at < ? ` +
        'order by lease_expires_at limit ?',
      [now, limit],
    );
  }

  /** Applies `patch` to a running task whose lease `lease` expired before `now`. */
  async updateExpired(
    id: string,
    lease: string,
    now: number,
    patch: TaskUpdate,
  ): Promise<TaskRow | undefined> {
    return this.updateRunning(id, lease, now, patch, '<');
  }

  /** Patches a running task holding `lease` whose lease is still valid ('>=') or expired ('<') at `now`. */
  private async updateRunning(
    id: string,
    lease: string,
    now: number,
    patch: TaskUpdate,
    expiry: '>=' | '<',
  ): Promise<TaskRow | undefined> {
    const columns = Object.keys(patch).filter((k) => patch[k as keyof TaskUpdate] !== undefined);
    const values = columns.map((c) => patch[c as keyof TaskUpdate] ?? null);
    const sql =
      `update tasks set ${setClause([...columns, 'updated_at'])} ` +
      `where id = ? and lease = ? and state = ${RUNNING} and lease_expires_at ${expiry} ? returning ${TASK_LIST}`;
    return (await this.raw.rows<TaskRow>(sql, [...values, now, id, lease, now]))[0];
  }

  /** Cancels every queued or running task of a job; returns the leases that were cut. */
  async cancelOpen(jobId: string, now: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('tasks')
      .set({
        state: TaskState.Cancelled,
        lease: null,
        lease_expires_at: null,
        updated_at: now,
        finished_at: now,
      })
      .where('job_id', '=', jobId)
      .where('state', 'in', [TaskState.Queued, TaskState.Running])
      .returning(['id'])
      .execute();
    return rows.map((r) => r.id);
  }
}
