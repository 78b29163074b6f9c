// The TaskStore on one SQLite file. Every method runs synchronously on the one
// better-sqlite3 connection. The writes asked for in one turn of the event loop
// run as one `BEGIN IMMEDIATE ... COMMIT` transaction (write-batch.ts), each in
// its own savepoint: nothing else in this process can run in between, so no
// transaction ever waits on another of ours; another process's is waited for
// without blocking the event loop (`run`). The checkpoints that wait for the
// disk run on their own thread (checkpointer.ts).
import type SqliteDatabase from 'better-sqlite3';
import type { Kysely } from 'kysely';
import {
  decide,
  decideCancel,
  decideSubmit,
  newJob,
  type Policy,
  type Submission,
} from '../../coordinator/decide.js';
import { AppError, ErrorKind, errorMessage } from '../../errors.js';
import { migrate, pendingMigrations } from '../migrations.js';
import type { Database, JobRow } from '../schema.js';
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
  StateCounts,
  SubmitResult,
  TaskBrief,
  TaskStore,
  WorkerListing,
} from '../task-store.js';
import { Checkpointer } from './checkpointer.js';
import { isBusy, openConnection } from './connection.js';
import { Statements } from './statements.js';
import { type InTransaction, WriteBatch } from './write-batch.js';

/** How long a call keeps trying while another connection holds the database. */
const BUSY_RETRY_MS = 10_000;
/** Writes after which checkpoints move to their own thread (a small job never starts it). */
const CHECKPOINT_THREAD_AFTER = 200;

export class SqliteTaskStore implements TaskStore {
  /** SQLite has no server to lose. */
  readonly unavailable = false;
  private readonly sql: Statements;
  private readonly inTransaction: InTransaction;
  private readonly batch: WriteBatch;
  private writes = 0;
  private checkpointer?: Checkpointer;

  private constructor(
    private readonly conn: SqliteDatabase.Database,
    readonly db: Kysely<Database>,
    readonly display: string,
  ) {
    this.sql = new Statements(conn);
    this.inTransaction = conn.transaction((fn) => fn());
    this.batch = new WriteBatch(this.inTransaction, (fn) => this.run(fn));
  }

  /** Opens (creating if needed) and migrates the database `file`. */
  static async open(file: string): Promise<SqliteTaskStore> {
    let opened: ReturnType<typeof openConnection>;
    try {
      opened = openConnection(file);
    } catch (err) {
      throw new AppError(ErrorKind.AccessDenied, `cannot open the database ${file}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    try {
      await migrate(opened.db as Kysely<unknown>, { blobType: 'blob' });
    } catch (err) {
      await opened.db.destroy().catch(() => {});
      throw new AppError(ErrorKind.Internal, `cannot open the database ${file}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    return new SqliteTaskStore(opened.conn, opened.db, file);
  }

  /** Runs `fn` as one write (all of it or nothing), committed with the other writes of this turn. */
  private write<T>(fn: () => T): Promise<T> {
    if (++this.writes === CHECKPOINT_THREAD_AFTER)
      this.checkpointer = new Checkpointer(this.conn, this.display);
    return this.batch.add(fn);
  }

  /** Runs several reads of `fn` on one snapshot. */
  private read<T>(fn: () => T): Promise<T> {
    return this.run(() => this.inTransaction.deferred(fn) as T);
  }

  /**
   * Runs `fn` (reads, or one statement, or a transaction), with SQLite's errors
   * as AppErrors. While another connection (another process) holds the
   * database, waits without blocking the event loop and runs `fn` again: it
   * changed nothing (a transaction that fails rolls back whole).
   */
  private async run<T>(fn: () => T): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return fn();
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (!isBusy(err)) throw AppError.from(err);
        if (Date.now() - started > BUSY_RETRY_MS)
          throw new AppError(ErrorKind.Transient, `database busy: ${errorMessage(err)}`, { cause: err });
        await new Promise((r) => setTimeout(r, Math.min(50, 2 * attempt) * (0.5 + Math.random())));
      }
    }
  }

  submit(s: Submission, now: number, policy: Policy): Promise<SubmitResult> {
    return this.write((): SubmitResult => {
      const ownerId = this.sql.outputs.owner(s.location);
      const owner = ownerId ? { id: ownerId, state: this.sql.jobs.get(ownerId)?.state } : undefined;
      const d = decideSubmit(s, owner);
      if (d.refused === 'owned') return { submitted: false, ...d };
      if (d.refused === 'earlier-files') return { submitted: false, refused: d.refused };
      if (!this.sql.outputs.claim(s.location, s.id, now, d.replaceOwner))
        return { submitted: false, refused: 'taken' };
      const made = newJob(s.id, d.job, now, policy);
      this.sql.jobs.insert(made.job);
      this.sql.tasks.insert(made.tasks);
      if (d.cancel) this.cancel(d.cancel, now);
      return { submitted: true, replacedJobId: owner?.state ? owner.id : undefined };
    });
  }

  getJob(jobId: string): Promise<JobWithTasks | undefined> {
    return this.read(() => {
      const job = this.sql.jobs.get(jobId);
      return job && { job, tasks: this.sql.tasks.briefs(jobId) };
    });
  }

  listJobs(limit: number): Promise<JobWithTasks[]> {
    return this.read(() => {
      const jobs = this.sql.jobs.newest(limit);
      const byJob = new Map<string, TaskBrief[]>(jobs.map((j) => [j.id, []]));
      for (const t of this.sql.tasks.briefsOfNewestJobs(limit)) byJob.get(t.job_id)?.push(t);
      return jobs.map((job) => ({ job, tasks: byJob.get(job.id) ?? [] }));
    });
  }

  cancelJob(jobId: string, now: number): Promise<'cancelled' | 'unchanged' | 'not-found'> {
    return this.write(() => {
      const job = this.sql.jobs.get(jobId);
      if (!job) return 'not-found';
      return this.cancel(jobId, now) ? 'cancelled' : 'unchanged';
    });
  }

  /** Cancels an open job inside a transaction; whether it was open. */
  private cancel(jobId: string, now: number): boolean {
    const job = this.sql.jobs.get(jobId);
    const e = job && decideCancel(job);
    if (!e?.job || e.cancelOpenTasks === undefined) return false;
    this.sql.jobs.apply(jobId, e.job, now);
    this.sql.cancelOpen(jobId, now, e.cancelOpenTasks);
    return true;
  }

  anyRunnable(now: number): Promise<boolean> {
    return this.run(() => this.sql.tasks.anyRunnable(now));
  }

  claim(req: ClaimRequest) {
    return this.write(() => this.sql.claim(req));
  }

  heartbeat(h: Heartbeat): Promise<LeaseStatus | undefined> {
    // A write like the others: the beats of one turn share their commit.
    return this.write(() => {
      const { taskId, lease, workerId, now, progress } = h;
      if (this.sql.tasks.extendLease(taskId, lease, workerId, now, now + h.leaseMs, progress))
        return { leaseValid: true, cancelled: false };
      const states = this.sql.tasks.states(taskId);
      if (!states) return undefined;
      const stopped =
        states.task_state === TaskState.Cancelled ||
        states.job_state === null ||
        states.job_state === JobState.Cancelled ||
        states.job_state === JobState.Failed;
      return { leaseValid: false, cancelled: stopped };
    });
  }

  finish(f: Finish): Promise<Finished> {
    return this.write((): Finished => {
      const task = this.sql.tasks.get(f.taskId);
      if (!task) return { status: 'not-found' };
      const held =
        task.state === TaskState.Running &&
        task.lease === f.lease &&
        task.lease_owner === f.workerId &&
        (task.lease_expires_at ?? Number.NEGATIVE_INFINITY) >= f.now;
      if (!held) return { status: 'lease-lost' };
      const job = this.job(task.job_id);
      const effects = decide(job, task, f.outcome, f.now, f.policy);
      this.sql.apply(job, task.id, f.lease, effects, f.now, f.policy);
      const c = effects.job;
      return {
        status: 'accepted',
        task,
        effects,
        counts: {
          segments_done: c?.segmentsDone ?? job.segments_done,
          segments_total: c?.segmentsTotal ?? job.segments_total,
          has_audio: c?.hasAudio ?? job.has_audio,
          audio_done: c?.audioDone ?? job.audio_done,
        },
        next: f.next && this.sql.claim(f.next),
      };
    });
  }

  /** The job of a task (tasks.job_id references jobs: a task without one is a broken database). */
  private job(id: string): JobRow {
    const job = this.sql.jobs.get(id);
    if (!job) throw new AppError(ErrorKind.Internal, `job ${id} is missing`);
    return job;
  }

  async expireLeases(now: number, leaseMs: number, policy: Policy, limit: number): Promise<Expired[]> {
    const ids = await this.run(() => this.sql.tasks.expired(now, limit));
    const changed: Expired[] = [];
    for (const id of ids) {
      // One transaction each: one broken job does not hold up the others.
      const one = await this.write((): Expired | undefined => {
        const task = this.sql.tasks.get(id);
        if (!task || task.state !== TaskState.Running || !task.lease) return undefined;
        if ((task.lease_expires_at ?? Number.POSITIVE_INFINITY) >= now) return undefined;
        const job = this.job(task.job_id);
        const effects = decide(job, task, { kind: 'expired', leaseMs }, now, policy);
        this.sql.apply(job, task.id, task.lease, effects, now, policy);
        return { task, effects };
      });
      if (one) changed.push(one);
    }
    return changed;
  }

  resumeLeases(until: number, now: number): Promise<number> {
    return this.write(() => this.sql.tasks.resumeLeases(until, now));
  }

  workerSeen(workerId: string, now: number, profile?: { host: string; slots: number }): Promise<void> {
    return this.write(() => {
      if (profile) this.sql.workers.profile(workerId, now, profile.host, profile.slots);
      else this.sql.workers.touch(workerId, now, 0);
    });
  }

  listWorkers(): Promise<WorkerListing> {
    return this.read(() => ({
      workers: this.sql.workers.list(),
      done: this.sql.runs.doneCounts(),
      running: this.sql.tasks.running(),
    }));
  }

  countStates(): Promise<StateCounts> {
    return this.read(() => ({ jobs: this.sql.jobs.perState(), tasks: this.sql.tasks.perState() }));
  }

  jobRuns(jobId: string, limit: number): Promise<JobRun[]> {
    return this.run(() => this.sql.runs.ofJobInOrder(jobId, limit));
  }

  missingMigrations(): Promise<string[]> {
    return pendingMigrations(this.db as Kysely<unknown>, { blobType: 'blob' });
  }

  async close(): Promise<void> {
    // Writes already asked for commit first (an empty write joins, and so waits for, their batch).
    await this.batch.add(() => undefined).catch(() => {});
    await this.checkpointer?.stop();
    // Closes the connection Kysely shares.
    await this.db.destroy();
  }
}
