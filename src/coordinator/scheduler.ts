// Hands tasks to workers: the atomic claim, the long poll around it, giving back
// a claim nobody will run, and requeueing tasks whose lease expired.
import { randomUUID } from 'node:crypto';
import { errorMessage, invalidInput } from '../errors.js';
import type { Task } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Logger } from '../log.js';
import {
  type Clock,
  JobState,
  type Queries,
  RunOutcome,
  type Store,
  TaskKind,
  type TaskRow,
  TaskState,
} from '../store/index.js';
import { taskMessage, taskName } from './codec.js';
import { failJob, failureReason, type MachineConfig } from './job-machine.js';
import type { Notifier } from './notifier.js';

export interface SchedulerConfig {
  leaseMs: number;
  /** Longest long poll, whatever the worker asks for. */
  maxWaitMs: number;
  /** How often a waiting poll looks at the database (work created by other coordinators). */
  pollIntervalMs: number;
  machine: MachineConfig;
}

/** Minimum time between two lease-expiry sweeps started by polls. */
const REAP_EVERY_MS = 1000;
const REAP_BATCH = 100;

export class Scheduler {
  private lastReap = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly cfg: SchedulerConfig,
    private readonly work: Notifier,
    private readonly jobs: Notifier,
    private readonly log: Logger,
  ) {}

  /** Claims the next task for a worker, waiting up to `waitMs` for one; undefined when none came. */
  async getTask(workerId: string, waitMs: number, signal: AbortSignal): Promise<Task | undefined> {
    if (!workerId) throw invalidInput('worker_id: required');
    const deadline = Date.now() + Math.min(Math.max(waitMs, 0), this.cfg.maxWaitMs);
    for (let attempt = 0; ; attempt++) {
      const generation = this.work.current;
      await this.reapIfDue();
      // A poll that found nothing before looks with a read first: idle workers
      // (and a crowd woken for one new task) then cost no write transactions.
      const row =
        attempt === 0 || (await this.store.query((q) => q.tasks.anyRunnable(this.clock.now())))
          ? await this.claimOnce(workerId)
          : undefined;
      if (row) {
        if (signal.aborted) {
          // The caller went away: its response would be lost, so give the task back now.
          await this.release(row.id, row.lease!, 'worker stopped polling before receiving the task');
          return undefined;
        }
        return taskMessage(row, this.cfg.leaseMs);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) {
        // A claim records the worker; an idle poll records it here.
        await this.store.query((q) => q.workers.touch(workerId, this.clock.now()));
        return undefined;
      }
      await this.work.wait(generation, Math.min(remaining, this.cfg.pollIntervalMs), signal);
    }
  }

  /** One claim attempt: leases the next runnable task to the worker. */
  async claimOnce(workerId: string): Promise<TaskRow | undefined> {
    const now = this.clock.now();
    const lease = randomUUID();
    const row = await this.store.transaction(async (q) => {
      const claimed = await q.tasks.claim({ now, workerId, lease, leaseMs: this.cfg.leaseMs });
      if (!claimed) return undefined;
      await q.runs.start({
        lease,
        task_id: claimed.id,
        job_id: claimed.job_id,
        attempt: claimed.attempts,
        worker_id: workerId,
        started_at: now,
      });
      await q.workers.touch(workerId, now, true);
      return claimed;
    });
    if (!row) return undefined;
    // Outside the claim's transaction: rows are always locked job first, then tasks.
    // Only a split runs while its job is queued, so other claims skip this update
    // (and never wait on a job row another coordinator's finish has locked).
    if (row.kind === TaskKind.Split)
      await this.store.query((q) =>
        q.jobs.update(row.job_id, { state: JobState.Running, updated_at: now }, [JobState.Queued]),
      );
    this.jobs.notify();
    this.log.info(
      { jobId: row.job_id, taskId: row.id, task: taskName(row), workerId, attempt: row.attempts },
      'task claimed',
    );
    return row;
  }

  /** Gives a claimed task back without counting the attempt. */
  async release(taskId: string, lease: string, why: string): Promise<boolean> {
    const now = this.clock.now();
    const done = await this.store.transaction(async (q) => {
      const task = await q.tasks.get(taskId);
      if (!task) return false;
      await q.jobs.get(task.job_id, { lock: true });
      return releaseLeased(q, task, lease, why, now);
    });
    if (done) this.work.notify();
    return done;
  }

  private async reapIfDue(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastReap < REAP_EVERY_MS && now >= this.lastReap) return;
    this.lastReap = now;
    try {
      await this.reapExpired();
    } catch (err) {
      if (!this.store.unavailable) this.log.warn({ err: errorMessage(err) }, 'lease expiry sweep failed');
    }
  }

  /** Requeues (or, after too many attempts, fails) every task whose lease expired; returns how many. */
  async reapExpired(): Promise<number> {
    const now = this.clock.now();
    const expired = await this.store.query((q) => q.tasks.expired(now, REAP_BATCH));
    let count = 0;
    for (const candidate of expired) {
      const changed = await this.store.transaction(async (q) => {
        const job = await q.jobs.get(candidate.job_id, { lock: true });
        const task = await q.tasks.get(candidate.id);
        if (!job || !task || task.lease !== candidate.lease) return false;
        const error = `lease expired: worker ${task.lease_owner ?? '?'} stopped sending heartbeats`;
        const retry = task.attempts < task.max_attempts;
        const row = await q.tasks.updateExpired(task.id, candidate.lease!, now, {
          state: retry ? TaskState.Queued : TaskState.Failed,
          lease: null,
          lease_expires_at: null,
          run_after: now,
          last_error: error,
          finished_at: retry ? null : now,
        });
        if (!row) return false;
        await q.runs.end(candidate.lease!, now, RunOutcome.Expired, error);
        if (!retry) await failJob(q, job, failureReason(task, error, true), now);
        this.log.warn(
          { jobId: task.job_id, taskId: task.id, task: taskName(task), workerId: task.lease_owner, retry },
          'lease expired',
        );
        return true;
      });
      if (changed) count++;
    }
    if (count > 0) {
      this.work.notify();
      this.jobs.notify();
    }
    return count;
  }
}

/** Puts a leased task back in the queue at once, refunding the attempt. */
export async function releaseLeased(
  q: Queries,
  task: TaskRow,
  lease: string,
  why: string,
  now: number,
): Promise<boolean> {
  const row = await q.tasks.updateLeased(task.id, lease, now, {
    state: TaskState.Queued,
    attempts: Math.max(0, task.attempts - 1),
    lease: null,
    lease_expires_at: null,
    run_after: now,
    progress: 0,
  });
  if (!row) return false;
  await q.runs.end(lease, now, RunOutcome.Released, why);
  return true;
}
