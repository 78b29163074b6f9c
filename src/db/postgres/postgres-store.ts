// The TaskStore on PostgreSQL: the coordinator's state in a database that several
// coordinators share. Statements live beside it, one module per table
// (*-sql.ts); claims and heartbeats are one statement each, a finish one
// transaction of two round trips (finish.ts).
import { Kysely, PostgresDialect } from 'kysely';
import {
  decideCancel,
  decideSubmit,
  newJob,
  type OutputOwner,
  type Policy,
  type Submission,
} from '../../coordinator/decide.js';
import { AppError, ErrorKind, errorMessage } from '../../errors.js';
import { Availability } from '../availability.js';
import { migrate, pendingMigrations } from '../migrations.js';
import type { ClaimedRow, Database, JobRow, WorkerRow } from '../schema.js';
import { JobState, TaskState } from '../states.js';
import type {
  ClaimRequest,
  Expired,
  Finish,
  Finished,
  Heartbeat,
  JobRun,
  JobWithTasks,
  LeaseStatus,
  OpenOptions,
  RunningTask,
  StateCounts,
  SubmitResult,
  TaskBrief,
  TaskStore,
  WorkerListing,
} from '../task-store.js';
import { cancelStatements } from './apply-effects.js';
import { claim } from './claim.js';
import { isUnavailable } from './errors.js';
import { expireLease, finishTask } from './finish.js';
import {
  changeJob,
  getJob,
  insertJob,
  jobStates,
  listJobs,
  lockJob,
  outputOwner,
  takeOutput,
} from './jobs-sql.js';
import { PgDatabase, type Tx } from './pg-database.js';
import { displayUrl, openPool } from './pool.js';
import { doneCounts, listWorkers, profileWorker, runningTasks, runsOfJob, touchWorker } from './runs-sql.js';
import {
  anyRunnable,
  expiredTasks,
  extendRunning,
  heartbeatTask,
  insertTasks,
  taskBriefs,
  taskStates,
} from './tasks-sql.js';

export class PostgresTaskStore implements TaskStore {
  private constructor(
    private readonly pg: PgDatabase,
    readonly db: Kysely<Database>,
    readonly display: string,
    private readonly availability: Availability,
  ) {}

  /** Connects to `url` and brings its schema up to date (safe with other coordinators doing the same). */
  static async open(url: string, options: OpenOptions = {}): Promise<PostgresTaskStore> {
    const display = displayUrl(url);
    const availability = new Availability(options.log, display);
    const pool = openPool(url, {
      poolSize: options.poolSize,
      // A pooled connection dying (server restart) starts an outage; the pool reconnects by itself.
      onError: (err) => {
        availability.failed(err);
        options.onPoolError?.(err);
      },
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const pg = new PgDatabase(pool, availability);
    try {
      await pg.retrying(() => migrate(db as Kysely<unknown>, { blobType: 'bytea' }));
    } catch (err) {
      await db.destroy().catch(() => {});
      const cause = err instanceof AppError ? (err.cause ?? err) : err;
      const kind = isUnavailable(cause) ? ErrorKind.Transient : ErrorKind.Internal;
      throw new AppError(kind, `cannot open the database ${display}: ${errorMessage(cause)}`, { cause });
    }
    return new PostgresTaskStore(pg, db, display, availability);
  }

  get unavailable(): boolean {
    return this.availability.down;
  }

  submit(s: Submission, now: number, policy: Policy): Promise<SubmitResult> {
    return this.pg.transaction(async (tx) => {
      const [row] = await tx.rows<{ job_id: string; state: JobState | null }>(outputOwner(s.location));
      if (row?.job_id === s.id) {
        // Ids are new per submit: this is an earlier try of this one whose COMMIT reply was lost.
        await tx.commit([]);
        return { submitted: true, replacedJobId: undefined };
      }
      const owner: OutputOwner | undefined = row && { id: row.job_id, state: row.state ?? undefined };
      const decision = decideSubmit(s, owner);
      if (decision.refused) {
        await tx.commit([]);
        return { submitted: false, ...decision };
      }
      const [taken, replaced] = await Promise.all([
        tx.rows(takeOutput(s.location, s.id, now, decision.replaceOwner)),
        decision.cancel ? tx.rows<JobRow>(lockJob(decision.cancel)) : [],
      ]);
      if (taken.length === 0) {
        await tx.commit([]);
        return { submitted: false, refused: 'taken' };
      }
      const { job, tasks } = newJob(s.id, decision.job, now, policy);
      const writes = [insertJob(job), insertTasks(tasks)];
      const cancel = replaced[0] && decideCancel(replaced[0]);
      if (cancel?.job) writes.push(changeJob(replaced[0]!.id, cancel.job, now));
      if (cancel?.cancelOpenTasks)
        writes.push(...cancelStatements(replaced[0]!.id, cancel.cancelOpenTasks, now));
      await tx.commit(writes);
      return { submitted: true, replacedJobId: owner?.state ? owner.id : undefined };
    });
  }

  async getJob(jobId: string): Promise<JobWithTasks | undefined> {
    const [jobs, tasks] = await Promise.all([
      this.pg.rows<JobRow>(getJob(jobId)),
      this.pg.rows<TaskBrief>(taskBriefs([jobId])),
    ]);
    return jobs[0] && { job: jobs[0], tasks };
  }

  async listJobs(limit: number): Promise<JobWithTasks[]> {
    const jobs = await this.pg.rows<JobRow>(listJobs(limit));
    if (jobs.length === 0) return [];
    const briefs = await this.pg.rows<TaskBrief>(taskBriefs(jobs.map((j) => j.id)));
    const byJob = new Map<string, TaskBrief[]>(jobs.map((j) => [j.id, []]));
    for (const b of briefs) byJob.get(b.job_id)?.push(b);
    return jobs.map((job) => ({ job, tasks: byJob.get(job.id) ?? [] }));
  }

  cancelJob(jobId: string, now: number): Promise<'cancelled' | 'unchanged' | 'not-found'> {
    return this.pg.transaction(async (tx: Tx) => {
      const [job] = await tx.rows<JobRow>(lockJob(jobId));
      const cancel = job && decideCancel(job);
      if (!cancel) {
        await tx.commit([]);
        return job ? 'unchanged' : 'not-found';
      }
      const writes = cancel.job ? [changeJob(jobId, cancel.job, now)] : [];
      if (cancel.cancelOpenTasks) writes.push(...cancelStatements(jobId, cancel.cancelOpenTasks, now));
      await tx.commit(writes);
      return 'cancelled';
    });
  }

  async anyRunnable(now: number): Promise<boolean> {
    return (await this.pg.rows(anyRunnable(now))).length > 0;
  }

  claim(req: ClaimRequest): Promise<ClaimedRow | undefined> {
    return claim(this.pg, req);
  }

  async heartbeat(h: Heartbeat): Promise<LeaseStatus | undefined> {
    const [row] = await this.pg.rows<{ extended: number; task_state: TaskState; job_state: JobState | null }>(
      heartbeatTask(h.taskId, h.lease, h.workerId, h.now, h.leaseMs, h.progress),
    );
    if (!row) return undefined;
    if (row.extended > 0) return { leaseValid: true, cancelled: false };
    const stopped =
      row.task_state === TaskState.Cancelled ||
      row.job_state === null ||
      row.job_state === JobState.Cancelled ||
      row.job_state === JobState.Failed;
    return { leaseValid: false, cancelled: stopped };
  }

  finish(f: Finish): Promise<Finished> {
    return finishTask(this.pg, f);
  }

  async expireLeases(now: number, leaseMs: number, policy: Policy, limit: number): Promise<Expired[]> {
    const candidates = await this.pg.rows<{ id: string; job_id: string; lease: string }>(
      expiredTasks(now, limit),
    );
    const expired: Expired[] = [];
    for (const c of candidates) {
      const e = await expireLease(this.pg, c, now, leaseMs, policy);
      if (e) expired.push(e);
    }
    return expired;
  }

  resumeLeases(until: number, now: number): Promise<number> {
    return this.pg.changed(extendRunning(until, now));
  }

  async workerSeen(workerId: string, now: number, profile?: { host: string; slots: number }): Promise<void> {
    await this.pg.rows(
      profile ? profileWorker(workerId, now, profile.host, profile.slots) : touchWorker(workerId, now),
    );
  }

  async listWorkers(): Promise<WorkerListing> {
    const [workers, done, running] = await Promise.all([
      this.pg.rows<WorkerRow>(listWorkers()),
      this.pg.rows<{ worker_id: string; done: number }>(doneCounts()),
      this.pg.rows<RunningTask>(runningTasks()),
    ]);
    return { workers, done: new Map(done.map((d) => [d.worker_id, d.done])), running };
  }

  async countStates(): Promise<StateCounts> {
    const [jobs, tasks] = await Promise.all([
      this.pg.rows<{ state: string; n: number }>(jobStates()),
      this.pg.rows<{ state: string; n: number }>(taskStates()),
    ]);
    const byState = (rows: { state: string; n: number }[]) => new Map(rows.map((r) => [r.state, r.n]));
    return { jobs: byState(jobs), tasks: byState(tasks) };
  }

  jobRuns(jobId: string, limit: number): Promise<JobRun[]> {
    return this.pg.rows<JobRun>(runsOfJob(jobId, limit));
  }

  missingMigrations(): Promise<string[]> {
    return pendingMigrations(this.db as Kysely<unknown>, { blobType: 'bytea' });
  }

  /** Closes the pool. */
  close(): Promise<void> {
    return this.db.destroy();
  }
}
