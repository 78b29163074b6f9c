// The coordinator's behaviour, independent of the RPC layer: jobs in, tasks out,
// results recorded. All state is in the store, so any number of these can share
// one database and a restart loses nothing.
import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { invalidInput, notFound } from '../errors.js';
import {
  type EncodeJob,
  EncodeJobSchema,
  type FinishTaskRequest,
  type Job,
  JobSchema,
  type Task,
  type TaskFailure,
  type WorkerInfo,
  WorkerInfoSchema,
  WorkerTaskSchema,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Logger, silentLogger } from '../log.js';
import { describe } from '../storage/index.js';
import {
  type ClaimedRow,
  type Clock,
  type FinishedTask,
  isTerminalJobState,
  type JobRow,
  JobState,
  type Queries,
  RunOutcome,
  type Store,
  type Success,
  systemClock,
  type TaskBrief,
  TaskKind,
  type TaskRow,
  TaskState,
} from '../store/index.js';
import { setLongTimeout } from '../timers.js';
import { encodeResult, type SuccessResult, taskName, taskTitle } from './codec.js';
import {
  advance,
  advanceCounted,
  cancelJob,
  countedNeedsMore,
  createJob,
  type Effects,
  failJob,
  failureReason,
  jobCount,
  type MachineConfig,
  resultProblem,
} from './job-machine.js';
import { jobView } from './job-view.js';
import { Notifier } from './notifier.js';
import { checkInputKept, earlierOutputFiles, outputKey } from './output-safety.js';
import { releaseLeased, Scheduler, type WorkerProfile } from './scheduler.js';
import type { TaskEnd, TaskObserver } from './task-observer.js';
import { boundedReason, checkRequestId, validateEncodeJob } from './validate.js';

export interface CoordinatorOptions {
  clock?: Clock;
  /** Lease length; a task without a heartbeat for this long is given to another worker. */
  leaseMs?: number;
  /** Claims of one task before a transient failure fails the job. */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt up to `backoffMaxMs`, with ±20 % jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Cap on a GetTask long poll. */
  maxWaitMs?: number;
  /** How often waiting polls and watchers re-read the database. */
  pollIntervalMs?: number;
  /** Refuse jobs whose locations carry S3 keys, so no secret is ever stored (workers use their own chain). */
  refuseCredentials?: boolean;
  /** Told about hand-outs, finishes and lease expiries (the metrics). */
  observer?: TaskObserver;
  log?: Logger;
}

/** Heartbeat answer. */
export interface LeaseStatus {
  leaseValid: boolean;
  cancelled: boolean;
}

const MAX_LIST = 1000;
/** Longest host name a worker may report (a DNS name's limit). */
const MAX_HOST = 253;

export class Coordinator {
  readonly clock: Clock;
  readonly leaseMs: number;
  private readonly machine: MachineConfig;
  private readonly scheduler: Scheduler;
  private readonly work = new Notifier();
  private readonly jobs = new Notifier();
  private readonly closing = new AbortController();
  private readonly pollIntervalMs: number;
  private readonly log: Logger;
  private readonly refuseCredentials: boolean;
  private readonly observer?: TaskObserver;

  constructor(
    private readonly store: Store,
    options: CoordinatorOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.log = options.log ?? silentLogger;
    this.refuseCredentials = options.refuseCredentials ?? false;
    this.observer = options.observer;
    const base = options.backoffBaseMs ?? 1000;
    const max = options.backoffMaxMs ?? 60_000;
    this.machine = {
      maxAttempts: options.maxAttempts ?? 3,
      backoffMs: (attempts) =>
        Math.round(Math.min(max, base * 2 ** Math.max(0, attempts - 1)) * (0.8 + 0.4 * Math.random())),
    };
    this.scheduler = new Scheduler(
      store,
      this.clock,
      {
        leaseMs: this.leaseMs,
        maxWaitMs: options.maxWaitMs ?? 10_000,
        pollIntervalMs: this.pollIntervalMs,
        machine: this.machine,
        onExpired: options.observer && ((count) => options.observer?.leasesExpired(count)),
      },
      this.work,
      this.jobs,
      this.log,
      this.closing.signal,
    );
  }

  /**
   * Gives every running task a full lease from now; returns how many. Run as a
   * coordinator starts: while none ran, workers could not heartbeat, and that is
   * not their fault. With other coordinators up (PostgreSQL) it only delays
   * noticing a dead worker by one lease.
   */
  async resumeLeases(): Promise<number> {
    const now = this.clock.now();
    return this.store.write((q) => q.tasks.extendRunning(now + this.leaseMs, now));
  }

  /** Validates and stores a job; returns its id. */
  async submitJob(job: EncodeJob | undefined): Promise<string> {
    return (await this.submit(job)).jobId;
  }

  /**
   * Validates and stores a job. Its output location must not be another job's
   * (or hold an earlier encode's files) unless `overwrite`: then the job writes
   * its media under a folder named by its id and its master playlist last, and
   * the job it replaces is cancelled if still open. `replacesJobId` is an
   * overwrite that holds only while that job owns the location (a retry).
   */
  async submit(
    job: EncodeJob | undefined,
    options: { overwrite?: boolean; replacesJobId?: string } = {},
  ): Promise<{ jobId: string; replacedJobId?: string }> {
    const valid = validateEncodeJob(job, { refuseCredentials: this.refuseCredentials });
    if (options.replacesJobId) checkRequestId('replaces_job_id', options.replacesJobId);
    await checkInputKept(valid);
    const location = await outputKey(valid);
    const earlier = await earlierOutputFiles(valid);
    const output = describe(valid.output);
    const id = randomUUID();
    const replaced = await this.store.transaction(async (q) => {
      const now = this.clock.now();
      const owner = await q.outputs.owner(location);
      const ownerRow = owner ? await q.jobs.get(owner) : undefined;
      const overwrite =
        (options.overwrite ?? false) || (!!options.replacesJobId && owner === options.replacesJobId);
      if (!overwrite && ownerRow)
        throw invalidInput(
          `job.output: ${output} is the output of job ${owner} (${ownerRow.state}); submit with --overwrite to replace it`,
        );
      if (!overwrite && earlier.length > 0)
        throw invalidInput(
          `job.output: ${output} already holds an earlier encode's files (${earlier.slice(0, 3).join(', ')}${earlier.length > 3 ? ', ...' : ''}); submit with --overwrite to replace them`,
        );
      if (!(await q.outputs.claim(location, id, now, overwrite || (owner !== undefined && !ownerRow))))
        throw invalidInput(
          `job.output: ${output} was just taken by another job; submit with --overwrite to replace it`,
        );
      // Writing beside an earlier job's files would mix the two: a replacing job gets a folder of its own.
      const mediaFolder = overwrite && (ownerRow || earlier.length > 0) ? id : '';
      await createJob(q, create(EncodeJobSchema, { ...valid, mediaFolder }), now, this.machine, id);
      if (ownerRow && !isTerminalJobState(ownerRow.state)) await cancelJob(q, ownerRow.id, now);
      return ownerRow?.id;
    });
    this.log.info(
      { jobId: id, replacedJobId: replaced, output },
      replaced ? 'job submitted, replacing an output' : 'job submitted',
    );
    this.work.notify(1);
    this.jobs.notify();
    return { jobId: id, replacedJobId: replaced };
  }

  async getJob(jobId: string): Promise<Job> {
    checkRequestId('job_id', jobId);
    return this.store.query(async (q) => {
      const row = await q.jobs.get(jobId);
      if (!row) throw notFound(`job ${jobId} not found`);
      return jobView(row, await q.tasks.briefs([jobId]));
    });
  }

  /** The newest jobs first. */
  async listJobs(limit = 50): Promise<Job[]> {
    return this.store.query(async (q) => {
      const rows = await q.jobs.list(Math.min(Math.max(limit || 50, 1), MAX_LIST));
      const briefs = await q.tasks.briefs(rows.map((r) => r.id));
      const byJob = new Map<string, TaskBrief[]>();
      for (const b of briefs) byJob.set(b.job_id, [...(byJob.get(b.job_id) ?? []), b]);
      return rows.map((r) => jobView(r, byJob.get(r.id) ?? []));
    });
  }

  /** Cancels a job (a finished job is returned unchanged). */
  async cancelJob(jobId: string): Promise<Job> {
    checkRequestId('job_id', jobId);
    const changed = await this.store.transaction((q) => cancelJob(q, jobId, this.clock.now()));
    if (changed) {
      this.log.info({ jobId }, 'job cancelled');
      this.jobs.notify();
    }
    return this.getJob(jobId);
  }

  /** Yields the job now and after every change, until it finishes or `signal` aborts. */
  async *watchJob(jobId: string, signal: AbortSignal): AsyncGenerator<Job> {
    const stop = AbortSignal.any([signal, this.closing.signal]);
    let last: Uint8Array | undefined;
    while (!stop.aborted) {
      const generation = this.jobs.current;
      const job = await this.getJob(jobId);
      const bytes = toBinary(JobSchema, job);
      if (!last || Buffer.compare(bytes, last) !== 0) {
        last = bytes;
        yield job;
      }
      if (job.finishedAtMs > 0n) return;
      await this.jobs.wait(generation, this.pollIntervalMs * 2, stop);
    }
  }

  /** Long-polls for a task to hand to `workerId` (recording the host and slots it reports). */
  async claim(
    workerId: string,
    waitMs: number,
    signal: AbortSignal,
    profile?: WorkerProfile,
  ): Promise<Task | undefined> {
    const bounded = profile && { host: profile.host.slice(0, MAX_HOST), slots: profile.slots };
    const started = performance.now();
    const task = await this.scheduler.claim(workerId, waitMs, signal, bounded);
    this.observer?.claimed(task, performance.now() - started);
    return task;
  }

  /** Every worker seen, most recently seen first, with the tasks it holds and its succeeded runs. */
  async listWorkers(): Promise<{ workers: WorkerInfo[]; nowMs: bigint }> {
    return this.store.query(async (q) => {
      const [rows, done, running] = await Promise.all([
        q.workers.list(),
        q.workers.doneCounts(),
        q.workers.runningTasks(),
      ]);
      const workers = rows.map((w) => {
        const held = running.filter((t) => t.lease_owner === w.id);
        // A worker whose slots are all busy does not poll: its heartbeats show it is alive.
        const lastSeen = Math.max(Number(w.last_seen_at), ...held.map((t) => Number(t.updated_at)));
        return create(WorkerInfoSchema, {
          id: w.id,
          host: w.host,
          slots: w.slots,
          current: held.map((t) =>
            create(WorkerTaskSchema, { taskId: t.id, jobId: t.job_id, kind: t.kind, index: t.idx }),
          ),
          tasksDone: BigInt(done.get(w.id) ?? 0),
          lastSeenMs: BigInt(lastSeen),
          firstSeenMs: BigInt(Number(w.first_seen_at)),
        });
      });
      workers.sort((a, b) => Number(b.lastSeenMs - a.lastSeenMs) || a.id.localeCompare(b.id));
      return { workers, nowMs: BigInt(this.clock.now()) };
    });
  }

  /** Extends the lease of a task the worker holds and records its progress. */
  async heartbeat(workerId: string, taskId: string, lease: string, progress: number): Promise<LeaseStatus> {
    checkRequestId('worker_id', workerId);
    checkRequestId('task_id', taskId);
    checkRequestId('lease', lease);
    const now = this.clock.now();
    const fraction = Number.isFinite(progress) ? Math.min(1, Math.max(0, progress)) : 0;
    // The usual heartbeat is one guarded write (group-committed on SQLite).
    if (
      await this.store.write((q) => q.tasks.extendLease(taskId, lease, now, this.leaseMs, fraction, workerId))
    ) {
      this.jobs.notify();
      return { leaseValid: true, cancelled: false };
    }
    return this.store.query(async (q) => {
      const task = await q.tasks.get(taskId);
      if (!task) throw notFound(`task ${taskId} not found`);
      const job = await q.jobs.get(task.job_id);
      const jobStopped = !job || job.state === JobState.Cancelled || job.state === JobState.Failed;
      return { leaseValid: false, cancelled: task.state === TaskState.Cancelled || jobStopped };
    });
  }

  /**
   * Records a task's result or failure (not accepted when the lease is not held)
   * and, when the worker asked (`want_next`) and the finish was accepted, claims
   * its next task if one is runnable right now.
   */
  async finish(req: FinishTaskRequest): Promise<{ accepted: boolean; next?: Task }> {
    const outcome = await this.record(req);
    const { accepted } = outcome;
    if (!accepted || !req.wantNext) return { accepted };
    // PostgreSQL's usual finish claims in its own statement; elsewhere claim now.
    const next = 'next' in outcome ? outcome.next : await this.scheduler.claimNow(req.workerId);
    if (next) this.observer?.handedOut(next);
    return { accepted, next };
  }

  private async record(req: FinishTaskRequest): Promise<FinishOutcome> {
    checkRequestId('worker_id', req.workerId);
    checkRequestId('task_id', req.taskId);
    checkRequestId('lease', req.lease);
    const result = req.result;
    if (!result.case) throw invalidInput('result: required (a result or a failure)');
    const now = this.clock.now();
    const started = performance.now();
    const outcome =
      (await this.finishCounted(req, now)) ?? (await this.finishInTransaction(req, result, now));
    this.observer?.finished(req, outcome.accepted ? outcome.ended : undefined, performance.now() - started);
    if (!outcome.accepted)
      this.log.info({ taskId: req.taskId, workerId: req.workerId }, 'finish ignored: lease not held');
    if (outcome.newWork) this.work.notify(outcome.wake ?? 1);
    this.jobs.notify();
    return outcome;
  }

  /**
   * A finish in one transaction with its job locked. Asked for, the worker's next
   * task is claimed in the same transaction (it sees the tasks this finish made):
   * on SQLite one group-commit member per busy worker's task instead of two.
   */
  private async finishInTransaction(
    req: FinishTaskRequest,
    result: GivenResult,
    now: number,
  ): Promise<FinishOutcome> {
    const claim = req.wantNext ? this.scheduler.claimLater(req.workerId) : undefined;
    let next: ClaimedRow | undefined;
    const outcome = await this.store.transaction(async (q) => {
      next = undefined;
      const o = await this.recordFinish(q, req, result, now);
      if (claim && o.accepted) next = await q.tasks.claimAndRecord(claim.req);
      return o;
    });
    if (claim && outcome.accepted) outcome.next = await this.scheduler.claimedElsewhere(claim, next);
    return outcome;
  }

  /** Records a finish (its job row locked first); finds out why when it does not hold. */
  private async recordFinish(
    q: Queries,
    req: FinishTaskRequest,
    result: GivenResult,
    now: number,
  ): Promise<FinishOutcome> {
    // The job row first (the lock order), found through the task.
    const job = await q.jobs.lockForTask(req.taskId);
    if (!job) throw notFound(`task ${req.taskId} not found`);
    if (result.case !== 'failure') {
      // The usual finish: a valid result for the lease held, recorded by one guarded update.
      if (!resultProblem(result)) {
        const row = await q.tasks.succeed(success(req, result, now));
        if (row) return this.succeeded(q, job, row, now, result);
      }
    }
    // Anything else: find out what does not hold.
    const task = await q.tasks.get(req.taskId);
    if (!task) throw notFound(`task ${req.taskId} not found`);
    if (task.lease !== req.lease || task.lease_owner !== req.workerId || task.state !== TaskState.Running)
      return { accepted: false, newWork: false };
    if (result.case === 'failure') return this.recordFailure(q, job, task, result.value, now);
    if (result.case !== task.kind)
      throw invalidInput(`result: task ${task.id} is a ${task.kind} task, not ${result.case}`);
    const problem = resultProblem(result);
    if (problem)
      return this.recordFailure(q, job, task, { reason: problem, transient: false, released: false }, now);
    // The lease expired (not yet swept).
    return { accepted: false, newWork: false };
  }

  /**
   * The usual encode or audio finish: success, run end and count without reading
   * the job first. PostgreSQL: one autocommit statement (job lock included)
   * instead of a transaction of three round trips; the finish that completes the
   * job's encodes (or breaks the segment check) goes on in a transaction of its
   * own, and should the coordinator stop in between, the scheduler's repair sweep
   * creates the manifest task. SQLite: statements in one transaction, the
   * follow-up included. Undefined when that is not the case at hand or it did not
   * hold (then the general path finds out why).
   */
  private async finishCounted(req: FinishTaskRequest, now: number) {
    const result = req.result;
    if (result.case === 'failure' || result.case === undefined) return undefined;
    const count = jobCount(result);
    if (!count || resultProblem(result)) return undefined;
    // Asked for, the worker's next claim rides in the same statement.
    const claim = req.wantNext ? this.scheduler.claimLater(req.workerId) : undefined;
    // SQLite: one transaction, the follow-up included. PostgreSQL: one statement, the follow-up apart.
    const apart = this.store.dialect.writesInWith;
    const done = await this.store.write(async (q) => {
      const d = await q.tasks.succeedCounting(success(req, result, now), count.column, count.by, claim?.req);
      const more = d !== undefined && countedNeedsMore(d.task, d.counts, result);
      const effects: Effects | undefined =
        more && !apart ? await advanceCounted(q, d.task, now, this.machine, result) : undefined;
      return d && { ...d, more, effects };
    });
    if (!done) return undefined;
    let effects: Effects = done.effects ?? { newWork: false };
    try {
      if (done.more && apart)
        effects = await this.store.transaction((q) =>
          advanceCounted(q, done.task, now, this.machine, result),
        );
    } catch (err) {
      // The worker gets this error, not the task claimed for it: give that back now.
      const next = done.next;
      if (next?.lease)
        await this.scheduler
          .release(next.id, next.lease, 'the finish that claimed it failed')
          .catch(() => {});
      throw err;
    }
    const outcome: FinishOutcome = this.succeededWith(done.task, effects);
    // A manifest task made after the statement looked is claimed by finish, as elsewhere.
    if (claim && (done.next || !effects.newWork))
      outcome.next = await this.scheduler.claimedElsewhere(claim, done.next);
    return outcome;
  }

  private async succeeded(
    q: Queries,
    job: JobRow,
    row: TaskRow,
    now: number,
    result: SuccessResult,
  ): Promise<FinishOutcome> {
    return this.succeededWith(row, await advance(q, job, row, now, this.machine, result));
  }

  private succeededWith(row: FinishedTask, effects: Effects): FinishOutcome {
    this.log.debug(
      { jobId: row.job_id, taskId: row.id, task: taskName(row), workerId: row.lease_owner },
      'task succeeded',
    );
    // A split makes a task per piece: wake every poll. Anything else makes at most one.
    const wake = row.kind === TaskKind.Split ? Number.POSITIVE_INFINITY : 1;
    return { accepted: true, newWork: effects.newWork, wake, ended: { kind: row.kind, end: 'succeeded' } };
  }

  private async recordFailure(
    q: Queries,
    job: JobRow,
    task: TaskRow,
    failure: Pick<TaskFailure, 'reason' | 'transient' | 'released'>,
    now: number,
  ): Promise<FinishOutcome> {
    const lease = task.lease!;
    const reason = boundedReason(failure.reason) || 'unknown error';
    const ids = { jobId: task.job_id, taskId: task.id, task: taskTitle(task), workerId: task.lease_owner };
    if (failure.released) {
      const ok = await releaseLeased(q, task, lease, reason, now);
      this.log.info(ids, 'task given back');
      return { accepted: ok, newWork: ok, ended: { kind: task.kind, end: 'given-back' } };
    }
    const retry = failure.transient && task.attempts < task.max_attempts && !isTerminalJobState(job.state);
    const backoff = retry ? this.machine.backoffMs(task.attempts) : 0;
    const row = await q.tasks.updateLeased(task.id, lease, now, {
      state: retry ? TaskState.Queued : TaskState.Failed,
      lease: null,
      lease_expires_at: null,
      last_error: reason,
      run_after: now + backoff,
      finished_at: retry ? null : now,
    });
    if (!row) return { accepted: false, newWork: false };
    await q.runs.end(lease, now, retry ? RunOutcome.Retried : RunOutcome.Failed, reason);
    if (retry) {
      this.log.warn({ ...ids, attempt: task.attempts, reason }, 'task failed, will retry');
      // Wake a poll when the retry becomes runnable (should this transaction commit, the task is there).
      setLongTimeout(() => this.work.notify(1), backoff, { unref: true });
      return { accepted: true, newWork: true, ended: { kind: task.kind, end: 'retried' } };
    }
    await failJob(q, job, failureReason(task, reason, failure.transient), now);
    this.log.warn({ ...ids, reason }, 'task failed, job failed');
    return { accepted: true, newWork: false, ended: { kind: task.kind, end: 'failed' } };
  }

  /** Requeues tasks with expired leases (also done by polls); returns how many. */
  reapExpired(): Promise<number> {
    return this.scheduler.reapExpired();
  }

  /** Ends long polls and watches; the store stays open (its owner closes it). */
  close(): void {
    this.closing.abort();
    // Waiting polls see `closing` once woken.
    this.work.notify();
  }
}

/** A finish's result or failure (present). */
type GivenResult = Exclude<FinishTaskRequest['result'], { case: undefined }>;

/** What a finish did: whether it was accepted, and whether (and how many polls) to wake for new work. */
interface FinishOutcome {
  accepted: boolean;
  newWork: boolean;
  wake?: number;
  /** How the task ended, when the finish was accepted. */
  ended?: { kind: string; end: TaskEnd };
  /** Present when the finish itself looked for the worker's next task: what it claimed, if anything. */
  next?: Task;
}

/** The success a finish reports, as the store records it. */
function success(req: FinishTaskRequest, result: SuccessResult, now: number): Success {
  const { taskId: id, lease, workerId } = req;
  return { id, lease, workerId, kind: result.case, now, result: encodeResult(result) };
}
