// Hands tasks to workers: the long poll around the store's atomic claim, giving
// back a claim nobody will receive, and the lease-expiry sweep. What a claim,
// release or expiry changes is the store's (and decide()'s) business.

import { orderedId } from '../db/ids.js';
import type { ClaimedRow, ClaimRequest, Clock, TaskStore } from '../db/index.js';
import { errorMessage } from '../errors.js';
import type { Task } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Logger } from '../log.js';
import { taskMessage, taskName, taskTitle } from './codec.js';
import type { Policy } from './decide.js';
import type { Notifier } from './notifier.js';
import { checkRequestId } from './validate.js';

export interface SchedulerConfig {
  leaseMs: number;
  /** Longest long poll, whatever the worker asks for. */
  maxWaitMs: number;
  /** How often a waiting poll looks at the database (work created by other coordinators). */
  pollIntervalMs: number;
  policy: Policy;
  /** Told how many leases each sweep found expired (the metrics). */
  onExpired?: (count: number) => void;
}

/** Minimum time between two lease-expiry sweeps started by polls. */
const REAP_EVERY_MS = 1000;
const REAP_BATCH = 100;

/** How often an idle poll records its worker as seen. */
const TOUCH_EVERY_MS = 1000;
const SEEN_MAX = 10_000;
/** How often a worker's unchanged host and slots are written again (several coordinators may record it). */
const PROFILE_EVERY_MS = 60_000;

/** What a worker says about itself on GetTask. */
export interface WorkerProfile {
  host: string;
  slots: number;
}

/** When each worker was last recorded as seen, so idle polls write at most once a second each. */
class SeenWorkers {
  private readonly at = new Map<string, number>();
  /** The host and slots each worker last reported and were recorded, and when. */
  private readonly profiles = new Map<string, { key: string; at: number }>();

  /**
   * Whether `profile` should be recorded (and notes it): it is news for this worker,
   * or was recorded long enough ago that another coordinator may have written an older one.
   */
  newProfile(workerId: string, profile: WorkerProfile, now: number): boolean {
    const key = `${profile.slots} ${profile.host}`;
    const last = this.profiles.get(workerId);
    if (last?.key === key && now - last.at < PROFILE_EVERY_MS && now >= last.at) return false;
    if (this.profiles.size >= SEEN_MAX) this.profiles.clear();
    this.profiles.set(workerId, { key, at: now });
    return true;
  }

  /** Forgets a profile whose write failed, so the next poll writes it again. */
  forgetProfile(workerId: string): void {
    this.profiles.delete(workerId);
  }

  due(workerId: string, now: number): boolean {
    const last = this.at.get(workerId);
    return last === undefined || now - last >= TOUCH_EVERY_MS || now < last;
  }

  note(workerId: string, now: number): void {
    if (this.at.size >= SEEN_MAX) this.at.clear();
    this.at.set(workerId, now);
  }
}

/** How long "nothing runnable" is believed without looking again (unless work is created here). */
const EMPTY_FOR_MS = 100;

/** A claim to make inside a finish's transaction (`Scheduler.nextClaim`). */
export interface NextClaim {
  req: ClaimRequest;
  /** The work generation when it was asked for. */
  generation: number;
}

export class Scheduler {
  private lastReap = Number.NEGATIVE_INFINITY;
  private readonly seen = new SeenWorkers();
  /** The last look that found nothing runnable: the work generation before it, and when. */
  private empty?: { generation: number; at: number; real: number };

  constructor(
    private readonly store: TaskStore,
    private readonly clock: Clock,
    private readonly cfg: SchedulerConfig,
    private readonly work: Notifier,
    private readonly jobs: Notifier,
    private readonly log: Logger,
    /** Aborted when the coordinator closes: open polls end (with `work` notified to wake them). */
    private readonly closing: AbortSignal,
  ) {}

  /** Claims the next task for a worker, waiting up to `waitMs` for one; undefined when none came. */
  async claim(
    workerId: string,
    waitMs: number,
    signal: AbortSignal,
    profile?: WorkerProfile,
  ): Promise<Task | undefined> {
    checkRequestId('worker_id', workerId);
    const at = this.clock.now();
    if (profile && (profile.host || profile.slots) && this.seen.newProfile(workerId, profile, at)) {
      await this.store.workerSeen(workerId, at, profile).catch((err: unknown) => {
        this.seen.forgetProfile(workerId);
        throw err;
      });
    }
    const deadline = Date.now() + Math.min(Math.max(waitMs, 0), this.cfg.maxWaitMs);
    const stopped = () => signal.aborted || this.closing.aborted;
    // The first look claims straight away; so does one woken by new work (notify wakes
    // only as many polls as there are new tasks). One woken by its timer reads first.
    let claimFirst = true;
    for (;;) {
      const generation = this.work.current;
      await this.reapIfDue();
      const row = this.knownEmpty() ? undefined : await this.look(workerId, claimFirst);
      if (row) {
        if (stopped()) {
          // The caller went away: its response would be lost, so give the task back now.
          await this.release(row, 'worker stopped polling before receiving the task');
          return undefined;
        }
        return taskMessage(row, this.cfg.leaseMs);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || stopped()) {
        // A claim records the worker; an idle poll records it here, at most once a second.
        const now = this.clock.now();
        if (this.seen.due(workerId, now)) {
          await this.store.workerSeen(workerId, now);
          this.seen.note(workerId, now);
        }
        return undefined;
      }
      claimFirst = await this.work.wait(generation, Math.min(remaining, this.cfg.pollIntervalMs), signal);
    }
  }

  /** Claims a task for the worker if one is runnable now, without waiting. */
  async claimNow(workerId: string): Promise<Task | undefined> {
    if (this.closing.aborted || this.knownEmpty()) return undefined;
    const row = await this.look(workerId, true);
    return row && taskMessage(row, this.cfg.leaseMs);
  }

  /**
   * Claims a task if there is one. A poll woken by its timer looks with a read
   * first (idle workers then cost no write transactions). Notes when nothing was
   * there, so the polls right after need not look again.
   */
  private async look(workerId: string, claimFirst: boolean): Promise<ClaimedRow | undefined> {
    const generation = this.work.current;
    const now = this.clock.now();
    const row =
      claimFirst || (await this.store.anyRunnable(now)) ? await this.claimOnce(workerId) : undefined;
    if (!row) this.noteEmpty(generation, now);
    return row;
  }

  /** Notes that a look begun at work generation `generation` (clock time `at`) found nothing runnable. */
  private noteEmpty(generation: number, at: number): void {
    this.empty = { generation, at, real: performance.now() };
  }

  /**
   * Whether a look at the database just now found nothing and no work was created
   * in this process since. Work made by other coordinators (or becoming runnable
   * after a backoff without a timer here) is seen once the note is EMPTY_FOR_MS old.
   */
  private knownEmpty(): boolean {
    const e = this.empty;
    if (!e || e.generation !== this.work.current) return false;
    // Young by the coordinator's clock (run_after and leases are on it) and in real
    // time (other coordinators work in it), so a test's manual clock fools neither.
    const limit = Math.min(EMPTY_FOR_MS, this.cfg.pollIntervalMs);
    const age = this.clock.now() - e.at;
    const real = performance.now() - e.real;
    return age >= 0 && age < limit && real < limit;
  }

  /** One claim attempt: leases the next runnable task to the worker. */
  private async claimOnce(workerId: string): Promise<ClaimedRow | undefined> {
    const req = this.claimRequest(workerId);
    const row = await this.store.claim(req);
    if (row) this.claimed(row, req);
    return row;
  }

  /**
   * A claim for `workerId` for a finish to make in its own transaction, or
   * undefined when a look now is known to find nothing. Hand what it claimed
   * (or nothing) to `nextClaimed`.
   */
  nextClaim(workerId: string): NextClaim | undefined {
    if (!workerId || this.closing.aborted || this.knownEmpty()) return undefined;
    return { req: this.claimRequest(workerId), generation: this.work.current };
  }

  /** The task for the worker from a finish's claim (`nextClaim`), if it got one. */
  nextClaimed(claim: NextClaim, row: ClaimedRow | undefined): Task | undefined {
    if (!row) {
      this.noteEmpty(claim.generation, claim.req.now);
      return undefined;
    }
    this.claimed(row, claim.req);
    return taskMessage(row, this.cfg.leaseMs);
  }

  private claimRequest(workerId: string): ClaimRequest {
    return { now: this.clock.now(), workerId, lease: orderedId(), leaseMs: this.cfg.leaseMs };
  }

  /** After a claim: the worker is seen, watchers are told. */
  private claimed(row: ClaimedRow, { workerId, now }: ClaimRequest): void {
    this.seen.note(workerId, now);
    this.jobs.notify();
    this.log.debug(
      { jobId: row.job_id, taskId: row.id, task: taskName(row), workerId, attempt: row.attempts },
      'task claimed',
    );
  }

  /** Gives a claimed task back without counting the attempt. */
  private async release(row: ClaimedRow, why: string): Promise<void> {
    const done = await this.store.finish({
      taskId: row.id,
      lease: row.lease!,
      workerId: row.lease_owner!,
      now: this.clock.now(),
      outcome: { kind: 'released', reason: why },
      policy: this.cfg.policy,
    });
    if (done.status === 'accepted') this.work.notify(1);
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
    const expired = await this.store.expireLeases(now, this.cfg.leaseMs, this.cfg.policy, REAP_BATCH);
    for (const { task, effects } of expired)
      this.log.warn(
        {
          jobId: task.job_id,
          taskId: task.id,
          task: taskTitle(task),
          workerId: task.lease_owner,
          retry: effects.task.state === 'queued',
        },
        'lease expired',
      );
    if (expired.length > 0) {
      this.cfg.onExpired?.(expired.length);
      this.work.notify(expired.length);
      this.jobs.notify();
    }
    return expired.length;
  }
}
