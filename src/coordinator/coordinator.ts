// The coordinator's behaviour, independent of the RPC layer: jobs in, tasks out,
// results recorded. All state is in the task store, so any number of these can
// share one database and a restart loses nothing. What a finish, expiry or
// cancel changes is decided by decide.ts and applied by the store.
import { randomUUID } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { type Clock, systemClock } from '../db/clock.js';
import type { Finished, LeaseStatus, TaskStore } from '../db/index.js';
import { invalidInput, notFound } from '../errors.js';
import {
  type EncodeJob,
  type FinishTaskRequest,
  type Job,
  JobSchema,
  type Task,
  type WorkerInfo,
  WorkerInfoSchema,
  WorkerTaskSchema,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Logger, silentLogger } from '../log.js';
import { describe } from '../storage/index.js';
import { setLongTimeout } from '../timers.js';
import { taskName, taskTitle } from './codec.js';
import type { Effects, Policy, TaskOutcome } from './decide.js';
import { jobView } from './job-view.js';
import { Notifier } from './notifier.js';
import { checkInputKept, earlierOutputFiles, outputKey } from './output-safety.js';
import { Scheduler, type WorkerProfile } from './scheduler.js';
import type { TaskEnd, TaskObserver } from './task-observer.js';
import { boundedReason, checkRequestId, validateEncodeJob } from './validate.js';

export type { LeaseStatus };

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

const MAX_LIST = 1000;
/** Longest host name a worker may report (a DNS name's limit). */
const MAX_HOST = 253;

export class Coordinator {
  readonly clock: Clock;
  readonly leaseMs: number;
  private readonly policy: Policy;
  private readonly scheduler: Scheduler;
  private readonly work = new Notifier();
  private readonly jobs = new Notifier();
  private readonly closing = new AbortController();
  private readonly pollIntervalMs: number;
  private readonly log: Logger;
  private readonly refuseCredentials: boolean;
  private readonly observer?: TaskObserver;

  constructor(
    private readonly store: TaskStore,
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
    this.policy = {
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
        policy: this.policy,
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
    return this.store.resumeLeases(now + this.leaseMs, now);
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
    const done = await this.store.submit(
      {
        id,
        job: valid,
        location,
        overwrite: options.overwrite ?? false,
        replacesJobId: options.replacesJobId,
        earlierFiles: earlier.length > 0,
      },
      this.clock.now(),
      this.policy,
    );
    if (!done.submitted) {
      if (done.refused === 'owned')
        throw invalidInput(
          `job.output: ${output} is the output of job ${done.owner} (${done.ownerState}); submit with --overwrite to replace it`,
        );
      if (done.refused === 'earlier-files')
        throw invalidInput(
          `job.output: ${output} already holds an earlier encode's files (${earlier.slice(0, 3).join(', ')}${earlier.length > 3 ? ', ...' : ''}); submit with --overwrite to replace them`,
        );
      throw invalidInput(
        `job.output: ${output} was just taken by another job; submit with --overwrite to replace it`,
      );
    }
    const replaced = done.replacedJobId;
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
    const found = await this.store.getJob(jobId);
    if (!found) throw notFound(`job ${jobId} not found`);
    return jobView(found.job, found.tasks);
  }

  /** The newest jobs first. */
  async listJobs(limit = 50): Promise<Job[]> {
    const jobs = await this.store.listJobs(Math.min(Math.max(limit || 50, 1), MAX_LIST));
    return jobs.map(({ job, tasks }) => jobView(job, tasks));
  }

  /** Cancels a job (a finished job is returned unchanged). */
  async cancelJob(jobId: string): Promise<Job> {
    checkRequestId('job_id', jobId);
    const done = await this.store.cancelJob(jobId, this.clock.now());
    if (done === 'not-found') throw notFound(`job ${jobId} not found`);
    if (done === 'cancelled') {
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
    const { workers: rows, done, running } = await this.store.listWorkers();
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
  }

  /** Extends the lease of a task the worker holds and records its progress. */
  async heartbeat(workerId: string, taskId: string, lease: string, progress: number): Promise<LeaseStatus> {
    checkRequestId('worker_id', workerId);
    checkRequestId('task_id', taskId);
    checkRequestId('lease', lease);
    const started = performance.now();
    const now = this.clock.now();
    const fraction = Number.isFinite(progress) ? Math.min(1, Math.max(0, progress)) : 0;
    const status = await this.store.heartbeat({
      taskId,
      lease,
      workerId,
      progress: fraction,
      now,
      leaseMs: this.leaseMs,
    });
    if (!status) throw notFound(`task ${taskId} not found`);
    this.observer?.heartbeat(status.leaseValid, performance.now() - started);
    if (status.leaseValid) this.jobs.notify();
    return status;
  }

  /**
   * Records a task's result or failure (not accepted when the lease is not held)
   * and, when the worker asked (`want_next`) and the finish was accepted, claims
   * its next task in the same transaction if one is runnable right now.
   */
  async finish(req: FinishTaskRequest): Promise<{ accepted: boolean; next?: Task }> {
    checkRequestId('worker_id', req.workerId);
    checkRequestId('task_id', req.taskId);
    checkRequestId('lease', req.lease);
    const result = req.result;
    if (!result.case) throw invalidInput('result: required (a result or a failure)');
    let outcome: TaskOutcome;
    if (result.case === 'failure') {
      const reason = boundedReason(result.value.reason) || 'unknown error';
      outcome = result.value.released
        ? { kind: 'released', reason }
        : { kind: 'failed', reason, transient: result.value.transient };
    } else outcome = { kind: 'succeeded', result };
    const claim = req.wantNext ? this.scheduler.nextClaim(req.workerId) : undefined;
    const started = performance.now();
    const done = await this.store.finish({
      taskId: req.taskId,
      lease: req.lease,
      workerId: req.workerId,
      now: this.clock.now(),
      outcome,
      policy: this.policy,
      next: claim?.req,
    });
    if (done.status === 'not-found') throw notFound(`task ${req.taskId} not found`);
    this.observer?.finished(
      req,
      done.status === 'accepted' ? { kind: done.task.kind, end: taskEnd(done.effects, outcome) } : undefined,
      performance.now() - started,
    );
    if (done.status === 'lease-lost') {
      this.log.info({ taskId: req.taskId, workerId: req.workerId }, 'finish ignored: lease not held');
      return { accepted: false };
    }
    this.finished(done, outcome);
    if (!req.wantNext) return { accepted: true };
    const next = claim
      ? this.scheduler.nextClaimed(claim, done.next)
      : // Nothing was runnable a moment ago, so the finish claimed nothing; it may have made work since.
        done.effects.wake > 0
        ? await this.scheduler.claimNow(req.workerId)
        : undefined;
    if (next) this.observer?.handedOut(next);
    return { accepted: true, next };
  }

  /** Logs an accepted finish and wakes whom its effects concern. */
  private finished(done: Extract<Finished, { status: 'accepted' }>, outcome: TaskOutcome): void {
    const { task, effects } = done;
    const ids = { jobId: task.job_id, taskId: task.id, task: taskName(task), workerId: task.lease_owner };
    if (outcome.kind === 'succeeded' && effects.task.state === 'succeeded')
      this.log.debug(ids, 'task succeeded');
    else if (outcome.kind === 'released') this.log.info({ ...ids, task: taskTitle(task) }, 'task given back');
    else if (effects.task.state === 'queued')
      this.log.warn(
        { ...ids, task: taskTitle(task), attempt: task.attempts, reason: effects.run.error },
        'task failed, will retry',
      );
    else if (effects.job?.state === 'failed')
      this.log.warn(
        { ...ids, task: taskTitle(task), reason: effects.job.failureReason },
        'task failed, job failed',
      );
    if (effects.wake > 0) this.work.notify(effects.wake);
    const retryAt = effects.retryAt;
    // Wake a poll when the retry becomes runnable.
    if (retryAt !== undefined)
      setLongTimeout(() => this.work.notify(1), Math.max(0, retryAt - this.clock.now()), { unref: true });
    this.jobs.notify();
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

/** How an accepted finish left its task (for the observer): from the effects the store applied. */
function taskEnd(effects: Effects, outcome: TaskOutcome): TaskEnd {
  if (effects.task.state === 'cancelled') return 'cancelled';
  if (outcome.kind === 'released') return 'given-back';
  if (effects.task.state === 'succeeded') return 'succeeded';
  return effects.task.state === 'queued' ? 'retried' : 'failed';
}
