// Queries on the tasks table: inserts, the atomic claim, lease-guarded updates.
// Every update of a running task matches its lease token, so a worker that lost
// its lease can never change the task again.
import type { Kysely } from 'kysely';
import type { SqlDialect } from './dialect.js';
import type { Database, NewTask, TaskRow, TaskUpdate } from './schema.js';
import { TaskState } from './states.js';

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

export class TaskQueries {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
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
    return this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** All tasks of a job in claim order. */
  async forJob(jobId: string): Promise<TaskRow[]> {
    return this.db.selectFrom('tasks').selectAll().where('job_id', '=', jobId).orderBy('ord').execute();
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
    const row = await this.db
      .selectFrom('tasks')
      .select('id')
      .where('state', '=', TaskState.Queued)
      .where('run_after', '<=', now)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Leases the next runnable task (oldest job first, then claim order) to a worker in
   * one statement: `UPDATE ... WHERE id = (SELECT ... LIMIT 1 [FOR UPDATE SKIP LOCKED])
   * AND state = 'queued' RETURNING *`.
   */
  async claim(req: ClaimRequest): Promise<TaskRow | undefined> {
    const next = this.dialect.lockSkipLocked(
      this.db
        .selectFrom('tasks')
        .select('id')
        .where('state', '=', TaskState.Queued)
        .where('run_after', '<=', req.now)
        .orderBy('job_created_at')
        .orderBy('job_id')
        .orderBy('ord')
        .limit(1),
    );
    return this.db
      .updateTable('tasks')
      .set((eb) => ({
        state: TaskState.Running,
        attempts: eb('attempts', '+', 1),
        lease: req.lease,
        lease_owner: req.workerId,
        lease_expires_at: req.now + req.leaseMs,
        progress: 0,
        updated_at: req.now,
      }))
      .where('id', '=', next)
      .where('state', '=', TaskState.Queued)
      .returningAll()
      .executeTakeFirst();
  }

  /** Extends a valid lease and records progress; false when the lease is not (or no longer) valid. */
  async extendLease(
    id: string,
    lease: string,
    now: number,
    leaseMs: number,
    progress: number,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('tasks')
      .set({ lease_expires_at: now + leaseMs, progress, updated_at: now })
      .where('id', '=', id)
      .where('lease', '=', lease)
      .where('state', '=', TaskState.Running)
      .where('lease_expires_at', '>=', now)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
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

  /** Running tasks whose lease expired before `now`. */
  async expired(now: number, limit: number): Promise<Pick<TaskRow, 'id' | 'job_id' | 'lease'>[]> {
    return this.db
      .selectFrom('tasks')
      .select(['id', 'job_id', 'lease'])
      .where('state', '=', TaskState.Running)
      .where('lease_expires_at', '<', now)
      .orderBy('lease_expires_at')
      .limit(limit)
      .execute();
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
  private updateRunning(
    id: string,
    lease: string,
    now: number,
    patch: TaskUpdate,
    expiry: '>=' | '<',
  ): Promise<TaskRow | undefined> {
    return this.db
      .updateTable('tasks')
      .set({ ...patch, updated_at: now })
      .where('id', '=', id)
      .where('lease', '=', lease)
      .where('state', '=', TaskState.Running)
      .where('lease_expires_at', expiry, now)
      .returningAll()
      .executeTakeFirst();
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
