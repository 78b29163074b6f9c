// Hands tasks to workers: the atomic claim, the long poll around it, giving back
// a claim nobody will run, and requeueing tasks whose lease expired.
import { errorMessage } from '../errors.js';
import type { Task } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Logger } from '../log.js';
import { orderedId } from '../store/ids.js';
import {
  type ClaimedRow,
  type ClaimRequest,
  type Clock,
  JobState,
  type Queries,
  RunOutcome,
  type Store,
  TaskKind,
  type TaskRow,
  TaskState,
} from '../store/index.js';
import { taskMessage, taskName, taskTitle } from './codec.js';
import { failJob, failureReason, type MachineConfig, repairCounted } from './job-machine.js';
import type { Notifier } from './notifier.js';
import { checkRequestId } from './validate.js';

export interface SchedulerConfig {
  leaseMs: number;
  /** Longest long poll, whatever the worker asks for. */
  maxWaitMs: number;
  /** How often a waiting poll looks at the database (work created by other coordinators). */
  pollIntervalMs: number;
  machine: MachineConfig;
  /** Told how many leases each sweep found expired (the metrics). */
  onExpired?: (count: number) => void;
}

/** Minimum time between two lease-expiry sweeps started by polls. */
const REAP_EVERY_MS = 1000;
const REAP_BATCH = 100;

/** How often the sweep looks for jobs counted done without a manifest task. */
const REPAIR_EVERY_MS = 10_000;
/** A job changed this recently may still have its finish's follow-up under way. */
const REPAIR_QUIET_MS = 5_000;

/** How often an idle poll records its worker as seen. */
const TOUCH_EVERY_MS = 1000;
const SEEN_MAX = 10_000;
/** How often a worker's unchanged host and slots are written again (several coordinators may record it). */
const PROFILE_EVERY_MS = 60_000;

/** When each worker was last recorded as seen, so idle polls write at most once a second each. */
/** What a worker says about itself on GetTask. */
export interface WorkerProfile {
  host: string;
  slots: number;
}

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

export class Scheduler {
  private lastReap = Number.NEGATIVE_INFINITY;
  private lastRepair = Number.NEGATIVE_INFINITY;
  private readonly seen = new SeenWorkers();
  /** The last look that found nothing runnable: the work generation before it, and when. */
  private empty?: { generation: number; at: number; real: number };

  /** PostgreSQL: claims made together. */
  private readonly batch?: ClaimBatch;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly cfg: SchedulerConfig,
    private readonly work: Notifier,
    private readonly jobs: Notifier,
    private readonly log: Logger,
    /** Aborted when the coordinator closes: open polls end (with `work` notified to wake them). */
    private readonly closing: AbortSignal,
  ) {
    if (store.dialect.writesInWith) this.batch = new ClaimBatch(store);
  }

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
      await this.store
        .write((q) => q.workers.profile(workerId, at, profile.host, profile.slots))
        .catch((err: unknown) => {
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
          await this.release(row.id, row.lease!, 'worker stopped polling before receiving the task');
          return undefined;
        }
        return taskMessage(row, this.cfg.leaseMs);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || stopped()) {
        // A claim records the worker; an idle poll records it here, at most once a second.
        const now = this.clock.now();
        if (this.seen.due(workerId, now)) {
          await this.store.write((q) => q.workers.touch(workerId, now));
          this.seen.note(workerId, now);
        }
        return undefined;
      }
      claimFirst = await this.work.wait(generation, Math.min(remaining, this.cfg.pollIntervalMs), signal);
    }
  }

  /** Claims a task for the worker if one is runnable now, without waiting (a finish asking for its next task). */
  async claimNow(workerId: string): Promise<Task | undefined> {
    if (!workerId || this.closing.aborted || this.knownEmpty()) return undefined;
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
      claimFirst || (await this.store.query((q) => q.tasks.anyRunnable(now)))
        ? await this.claimOnce(workerId)
        : undefined;
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
  async claimOnce(workerId: string): Promise<ClaimedRow | undefined> {
    const req = this.claimRequest(workerId);
    // The claim, its task_runs row and the worker's claim count: one statement on
    // PostgreSQL (shared by the claims asked for in the same event-loop turn), a
    // (group-committed) transaction on SQLite.
    const row = await (this.batch
      ? this.batch.claim(req)
      : this.store.write((q) => q.tasks.claimAndRecord(req)));
    if (row) await this.claimed(row, req);
    return row;
  }

  /**
   * A claim for `workerId` to make in another statement (a finish's, on
   * PostgreSQL), or undefined when a look now is known to find nothing. Hand what
   * it claimed (or nothing) to `claimedElsewhere`.
   */
  claimLater(workerId: string): { req: ClaimRequest; generation: number } | undefined {
    if (!workerId || this.closing.aborted || this.knownEmpty()) return undefined;
    return { req: this.claimRequest(workerId), generation: this.work.current };
  }

  /** The bookkeeping of a claim made by `claimLater`'s request; the task for the worker, if it got one. */
  async claimedElsewhere(
    claim: { req: ClaimRequest; generation: number },
    row: ClaimedRow | undefined,
  ): Promise<Task | undefined> {
    if (!row) {
      this.noteEmpty(claim.generation, claim.req.now);
      return undefined;
    }
    await this.claimed(row, claim.req);
    return taskMessage(row, this.cfg.leaseMs);
  }

  private claimRequest(workerId: string): ClaimRequest {
    return { now: this.clock.now(), workerId, lease: orderedId(), leaseMs: this.cfg.leaseMs };
  }

  /** After a claim: the worker is seen, a split's job is running, watchers are told. */
  private async claimed(row: ClaimedRow, { workerId, now }: ClaimRequest): Promise<void> {
    this.seen.note(workerId, now);
    // Outside the claim's transaction: rows are always locked job first, then tasks.
    // Only a split runs while its job is queued, so other claims skip this update
    // (and never wait on a job row another coordinator's finish has locked).
    if (row.kind === TaskKind.Split)
      await this.store.query((q) =>
        q.jobs.update(row.job_id, { state: JobState.Running, updated_at: now }, [JobState.Queued]),
      );
    this.jobs.notify();
    this.log.debug(
      { jobId: row.job_id, taskId: row.id, task: taskName(row), workerId, attempt: row.attempts },
      'task claimed',
    );
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
    if (done) this.work.notify(1);
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
        const error = `lease expired: worker ${task.lease_owner ?? '?'} sent no heartbeat for ${Math.round(this.cfg.leaseMs / 1000)} s (stopped, crashed or cut off from the coordinator)`;
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
          { jobId: task.job_id, taskId: task.id, task: taskTitle(task), workerId: task.lease_owner, retry },
          'lease expired',
        );
        return true;
      });
      if (changed) count++;
    }
    if (count > 0) {
      this.cfg.onExpired?.(count);
      this.work.notify(count);
      this.jobs.notify();
    }
    await this.repairIfDue(now);
    return count;
  }

  /**
   * Every REPAIR_EVERY_MS: creates the manifest task of running jobs whose encodes
   * are all counted but that have none. On PostgreSQL a finish counts in one
   * statement and creates the manifest task in a transaction after it; a
   * coordinator stopped in between leaves the job so, and this finishes the step.
   */
  private async repairIfDue(now: number): Promise<void> {
    if (now - this.lastRepair < REPAIR_EVERY_MS && now >= this.lastRepair) return;
    this.lastRepair = now;
    const ids = await this.store.query((q) =>
      q.jobs.countedWithoutManifest(now - REPAIR_QUIET_MS, REAP_BATCH),
    );
    let made = 0;
    for (const id of ids) {
      const { newWork } = await this.store.transaction((q) => repairCounted(q, id, now, this.cfg.machine));
      if (!newWork) continue;
      made++;
      this.log.warn({ jobId: id }, 'created the manifest task a stopped finish left undone');
    }
    if (made > 0) {
      this.work.notify(made);
      this.jobs.notify();
    }
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

/** Largest number of claims in one statement. */
const MAX_BATCH = 100;

/**
 * PostgreSQL: claims asked for in one event-loop turn (a crowd of polls woken by a
 * split's tasks) run as one statement (`claimMany`) instead of one round trip
 * each; a lone claim runs as it would alone.
 */
class ClaimBatch {
  private pending: {
    req: ClaimRequest;
    resolve: (row: ClaimedRow | undefined) => void;
    reject: (err: unknown) => void;
  }[] = [];
  private scheduled = false;

  constructor(private readonly store: Store) {}

  claim(req: ClaimRequest): Promise<ClaimedRow | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ req, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const all = this.pending;
        this.pending = [];
        for (let i = 0; i < all.length; i += MAX_BATCH) void this.run(all.slice(i, i + MAX_BATCH));
      });
    });
  }

  private async run(group: typeof this.pending): Promise<void> {
    try {
      if (group.length === 1) {
        const only = group[0]!;
        only.resolve(await this.store.write((q) => q.tasks.claimAndRecord(only.req)));
        return;
      }
      const rows = await this.store.write((q) => q.tasks.claimMany(group.map((p) => p.req)));
      const byLease = new Map(rows.map((r) => [r.lease, r]));
      for (const p of group) p.resolve(byLease.get(p.req.lease));
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  }
}
