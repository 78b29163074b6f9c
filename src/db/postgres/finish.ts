// The atomic finish and lease expiry. The common finish, an encode or audio
// success that only adds to its job's counts, is a read without locks and then
// one statement (countedFinish). Every other finish, and an expiry, is one
// transaction of two round trips: the first sends BEGIN and locks the job and the
// task (in that order); the job state machine (decide) runs on what they hold;
// the second sends its effects (and the worker's next claim) with COMMIT. The
// last encode of a job (and every encode of a progressive job) takes two more
// round trips: the read that found it was not the common finish, and one to
// read the results its manifest tasks list.
import {
  decide,
  type Effects,
  type JobCounts,
  manifestTasks,
  type Policy,
  type TaskOutcome,
  type TaskResult,
} from '../../coordinator/decide.js';
import type { ClaimedRow, JobRow, TaskRow, TaskRunRow } from '../schema.js';
import { JobState, RunOutcome, TaskState } from '../states.js';
import type { ChangedTask, Expired, Finish, Finished } from '../task-store.js';
import { countSuccess, effectStatements } from './apply-effects.js';
import { claimAfterSuccess, claimTask, leasedTask } from './claim-sql.js';
import type { PgDatabase, Tx } from './pg-database.js';
import { getRun } from './runs-sql.js';
import type { Statement } from './statement.js';
import { lockTaskWithJob, taskJobRows, taskResults, taskWithJob } from './tasks-sql.js';

/** Records how a task ended (see TaskStore.finish). */
export async function finishTask(db: PgDatabase, f: Finish): Promise<Finished> {
  const counted = await countedFinish(db, f);
  return counted.finished ?? lockedFinish(db, f, counted.mayHaveCommitted ?? false);
}

/**
 * The common finish without the locked transaction: an encode or audio success
 * that only adds to its job's counts. The locked finish holds the job's row lock
 * from its first round trip to its COMMIT, across the coordinator's reply and
 * event loop, and every other finish of the job sleeps on that lock in
 * PostgreSQL, to be woken and recheck it: under load that costs the server more
 * than the finishes. Here decide runs on the task and job read without a lock,
 * and one statement records the success and adds its counts, holding the job's
 * lock only while it runs. When that statement does not apply (the success
 * would finish the job's encodes, the job ended, the lease was lost meanwhile,
 * another try of this finish counted it), `finished` is undefined and the locked
 * finish decides, as for every other finish; `mayHaveCommitted` has it read first
 * whether another try of this finish committed.
 */
async function countedFinish(
  db: PgDatabase,
  f: Finish,
): Promise<{ finished?: Finished; mayHaveCommitted?: boolean }> {
  if (f.outcome.kind !== 'succeeded') return {};
  const kind = f.outcome.result.case;
  if (kind !== 'encode' && kind !== 'audio') return {};
  const [row] = await db.rows<unknown[]>(taskWithJob(f.taskId));
  if (!row) return { finished: { status: 'not-found' } };
  const { job, task } = taskJobRows(row);
  if (job.state !== JobState.Running || !holdsLease(task, f)) return {};
  const effects = decide(job, task, f.outcome, f.now, f.policy);
  if (effects.task.state !== TaskState.Succeeded || !countsOnly(effects)) return {};
  const success = {
    task: { ...task, lease: f.lease },
    workerId: f.workerId,
    result: effects.task.result,
    now: f.now,
    segments: (effects.job?.segmentsDone ?? job.segments_done) - job.segments_done,
    audio: (effects.job?.audioDone ?? job.audio_done) - job.audio_done,
  };
  return db.transaction(async (tx, attempt) => {
    // An earlier try may have committed: the locked finish tells (earlierTry).
    if (attempt.mayHaveCommitted) {
      await tx.commit([]);
      return { mayHaveCommitted: true };
    }
    const writes = [countSuccess(success)];
    if (f.next) writes.push(claimAfterSuccess(f.next, f.lease));
    const [applied, claimed] = (await tx.commit(writes)) as [JobCounts[], ClaimedRow[]?];
    const counts = applied[0];
    // Not counted: another try of this finish (a worker's retry racing its first, with
    // or without a next claim) may have counted it after this read, leaving the task
    // no longer leased. The locked finish reads the lease's run (earlierTry): ended by
    // a finish, it answers as for a repeated finish, with the task claimed here if one
    // was (claimed only when the lease's run succeeded; it would otherwise stay leased
    // to nobody who knows until its lease expires). A run still open (the success now
    // finishes the job's encodes, or the lease expired and is not yet requeued) or
    // ended by an expiry or a cancel gets the locked finish's own answer: decided
    // under the locks while the lease holds, lease-lost once it does not.
    if (!counts) return { mayHaveCommitted: true };
    // The counts as the statement left them (others may have added theirs since the read).
    const job =
      success.segments > 0 ? { segmentsDone: counts.segments_done } : { audioDone: counts.audio_done };
    return {
      finished: {
        status: 'accepted',
        task: changed(task),
        effects: { ...effects, job },
        counts,
        next: claimed?.[0],
      },
    };
  });
}

/** Whether `effects` change the job only by adding to its counts, and make or cancel no task. */
function countsOnly(e: Effects): boolean {
  const changes = Object.keys(e.job ?? {});
  return (
    changes.length > 0 &&
    changes.every((k) => k === 'segmentsDone' || k === 'audioDone') &&
    e.create.length === 0 &&
    !e.createManifest &&
    e.cancelOpenTasks === undefined
  );
}

/**
 * The finish in one transaction holding the job's and the task's locks.
 * `committedBefore`: a try of this finish before it may have committed.
 */
function lockedFinish(db: PgDatabase, f: Finish, committedBefore: boolean): Promise<Finished> {
  return db.transaction(async (tx, attempt) => {
    const [locked, earlier] = await Promise.all([
      tx.rows<unknown[]>(lockTaskWithJob(f.taskId)),
      committedBefore || attempt.mayHaveCommitted ? earlierTry(tx, f) : undefined,
    ]);
    if (!locked[0]) {
      await tx.commit([]);
      return { status: 'not-found' };
    }
    const { job, task } = taskJobRows(locked[0]);
    if (!holdsLease(task, f)) {
      // A try cut off after its COMMIT may have landed: that finish is this one's.
      if (earlier?.run && endedBy(earlier.run, f.outcome))
        return repeated(tx, f, job, task, earlier.run, earlier.next);
      await tx.commit([]);
      return { status: 'lease-lost' };
    }
    const effects = await withManifest(tx, job, task, decide(job, task, f.outcome, f.now, f.policy), f);
    const next = await commitWithClaim(tx, effectStatements({ ...task, lease: f.lease }, effects, f.now), f);
    return { status: 'accepted', task: changed(task), effects, counts: countsAfter(job, effects), next };
  });
}

/** Requeues or fails one task whose lease `lease` expired before `now`; undefined when it no longer applies. */
export function expireLease(
  db: PgDatabase,
  candidate: { id: string; job_id: string; lease: string },
  now: number,
  leaseMs: number,
  policy: Policy,
): Promise<Expired | undefined> {
  return db.transaction(async (tx) => {
    const [locked] = await tx.rows<unknown[]>(lockTaskWithJob(candidate.id));
    const { job, task } = locked ? taskJobRows(locked) : {};
    if (
      !job ||
      !task ||
      task.state !== TaskState.Running ||
      task.lease !== candidate.lease ||
      (task.lease_expires_at ?? 0) >= now
    ) {
      await tx.commit([]);
      return undefined;
    }
    const effects = decide(job, task, { kind: 'expired', leaseMs }, now, policy);
    await tx.commit(effectStatements({ ...task, lease: candidate.lease }, effects, now));
    return { task: changed(task), effects };
  });
}

/** Whether the finish's worker holds the task's lease, still valid at the finish's time. */
function holdsLease(task: TaskRow, f: Finish): boolean {
  return (
    task.state === TaskState.Running &&
    task.lease === f.lease &&
    task.lease_owner === f.workerId &&
    (task.lease_expires_at ?? 0) >= f.now
  );
}

/** What an earlier try of this finish left: the run of its lease, and the next task it claimed. */
async function earlierTry(tx: Tx, f: Finish): Promise<{ run?: TaskRunRow; next?: ClaimedRow }> {
  const [runs, next] = await Promise.all([
    tx.rows<TaskRunRow>(getRun(f.lease)),
    f.next ? tx.rows<ClaimedRow>(leasedTask(f.next.lease, f.workerId)) : [],
  ]);
  const run = runs[0];
  return { run: run?.worker_id === f.workerId ? run : undefined, next: next[0] };
}

/** Whether `run` was ended by a finish reporting `outcome` (not by an expiry or a cancel). */
function endedBy(run: TaskRunRow, outcome: TaskOutcome): boolean {
  const o = run.outcome;
  if (run.ended_at === null) return false;
  if (outcome.kind === 'released') return o === RunOutcome.Released;
  return o === RunOutcome.Succeeded || o === RunOutcome.Failed || o === RunOutcome.Retried;
}

/**
 * The answer to a finish whose earlier try committed (its reply was lost): accepted,
 * with the job as it is now and the next task that try claimed (else a claim now).
 */
async function repeated(
  tx: Tx,
  f: Finish,
  job: JobRow,
  task: TaskRow,
  run: TaskRunRow,
  claimed: ClaimedRow | undefined,
): Promise<Finished> {
  const next = claimed ?? (await commitWithClaim(tx, [], f));
  if (claimed) await tx.commit([]);
  // What the earlier try did, as far as the rows tell; the polls it should have woken look again.
  const effects: Effects = {
    task: appliedChange(task),
    run: { outcome: run.outcome ?? RunOutcome.Succeeded, error: run.error },
    create: [],
    createManifest: false,
    wake: Number.POSITIVE_INFINITY,
  };
  return { status: 'accepted', task: changed(task), effects, counts: countsAfter(job), next };
}

/** The change a finish made to `task`, read back from its row. */
function appliedChange(task: TaskRow): Effects['task'] {
  switch (task.state) {
    case TaskState.Succeeded:
      return { state: TaskState.Succeeded, result: task.result ?? new Uint8Array() };
    case TaskState.Queued:
      return { state: TaskState.Queued, runAfter: task.run_after, attempts: task.attempts };
    case TaskState.Failed:
      return { state: TaskState.Failed, lastError: task.last_error ?? '' };
    default:
      return { state: TaskState.Cancelled };
  }
}

/** `effects` with the job's manifest task in `create` when decide asked for it (reads the job's results). */
async function withManifest(
  tx: Tx,
  job: JobRow,
  task: TaskRow,
  effects: Effects,
  f: Finish,
): Promise<Effects> {
  if (!effects.createManifest) return effects;
  const rows = await tx.rows<TaskResult & { id: string }>(taskResults(job.id));
  // This finish's own state and result are not written yet.
  const own = effects.task.state === TaskState.Succeeded ? effects.task.result : null;
  const results = rows.map((r) => (r.id === task.id ? { ...r, state: effects.task.state, result: own } : r));
  return { ...effects, create: [...effects.create, ...manifestTasks(job, results, f.now, f.policy)] };
}

/** Commits `writes` and, when the finish asks for it, the claim of the worker's next task (returned). */
async function commitWithClaim(tx: Tx, writes: Statement[], f: Finish): Promise<ClaimedRow | undefined> {
  if (!f.next) {
    await tx.commit(writes);
    return undefined;
  }
  const results = await tx.commit([...writes, claimTask(f.next)]);
  return results.at(-1)?.[0] as ClaimedRow | undefined;
}

/** The job's counts after `effects`. */
function countsAfter(job: JobRow, effects?: Effects) {
  const c = effects?.job ?? {};
  return {
    segments_done: c.segmentsDone ?? job.segments_done,
    segments_total: c.segmentsTotal ?? job.segments_total,
    has_audio: c.hasAudio ?? job.has_audio,
    audio_done: c.audioDone ?? job.audio_done,
  };
}

/** What the coordinator logs of a changed task. */
function changed(t: TaskRow): ChangedTask {
  return {
    id: t.id,
    job_id: t.job_id,
    kind: t.kind,
    idx: t.idx,
    payload: t.payload,
    attempts: t.attempts,
    lease_owner: t.lease_owner,
  };
}
