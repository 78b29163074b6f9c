// The job state machine as pure functions: given a job, one of its tasks and what
// happened to that task, `decide` says what changes (the task's new state, the
// job's, the tasks to create, how the task's run ends, whom to wake). Both task
// stores call it inside their atomic finish, lease expiry and cancel, and apply
// its effects in the same transaction; nothing here touches a database.
//
// split → encodes of one or more consecutive pieces (+ audio) → manifest once all
// succeeded → job succeeded (a progressive job also gets progressive manifests
// in between, see manifest-tasks.ts). A transient failure is retried with backoff until
// the task's attempts run out; anything else fails the job and cancels its
// other tasks.
import { toBinary } from '@bufbuild/protobuf';
import type { JobRow, NewTask, TaskRow } from '../db/schema.js';
import { JobState, RunOutcome, TaskState } from '../db/states.js';
import { invalidInput } from '../errors.js';
import type { SplitResult } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Segment, SourceInfoSchema } from '../gen/avspl1t/v1/media_pb.js';
import { encodeResult, type SuccessResult, scanPayload, taskTitle } from './codec.js';
import { splitTasks } from './job-tasks.js';
import { isProgressiveJob, isProgressiveManifest } from './manifest-tasks.js';

// The stores build new jobs and manifest tasks, and apply the submit rules, from here too.
export { manifestTask, newJob, type TaskResult } from './job-tasks.js';
export { manifestTasks } from './manifest-tasks.js';
export { decideSubmit, type OutputOwner, type Submission, type SubmitDecision } from './submit-rules.js';

/** The retry policy the coordinator was configured with. */
export interface Policy {
  /** Claims of one task before a transient failure (or lease expiry) fails its job. */
  maxAttempts: number;
  /** Delay before retry number `attempts + 1`, in ms (backoff with jitter; a test passes a fixed one). */
  backoffMs(attempts: number): number;
}

/** What happened to a running task whose lease was held (checked by the store). */
export type TaskOutcome =
  /** The worker reports a result (not yet checked: a bad one is a permanent failure). */
  | { kind: 'succeeded'; result: SuccessResult }
  /** The worker reports a failure; a transient one is retried while attempts remain. */
  | { kind: 'failed'; reason: string; transient: boolean }
  /** The worker (or the coordinator, for a claim nobody received) gives the task back: the attempt is refunded. */
  | { kind: 'released'; reason: string }
  /** Nobody heartbeat the lease for `leaseMs`: a transient failure without backoff. */
  | { kind: 'expired'; leaseMs: number };

/** What `decide` reads of the job (its row, locked or otherwise current). */
export type JobFacts = Pick<
  JobRow,
  'id' | 'state' | 'details' | 'segments_total' | 'segments_done' | 'has_audio' | 'audio_done' | 'created_at'
>;

/** What `decide` reads of the task (its row, running under the lease the outcome is for). */
export type TaskFacts = Pick<
  TaskRow,
  'id' | 'job_id' | 'kind' | 'idx' | 'payload' | 'attempts' | 'max_attempts' | 'lease_owner'
>;

/** The task's new state. Every change also clears its lease. */
export type TaskChange =
  /** Done: store `result`, progress 1, finished_at now. */
  | { state: typeof TaskState.Succeeded; result: Uint8Array }
  /** Back in the queue, runnable from `runAfter`; `attempts` replaces the count (a release refunds one); `lastError` replaces the last error when given. */
  | { state: typeof TaskState.Queued; runAfter: number; attempts: number; lastError?: string }
  /** Failed for good (finished_at now). */
  | { state: typeof TaskState.Failed; lastError: string }
  /** Its job ended while it ran (finished_at now). */
  | { state: typeof TaskState.Cancelled };

/**
 * Changes to the job row (only the fields given). A terminal `state` also sets
 * finished_at, and the store then applies `cancelOpenTasks`.
 */
export interface JobChange {
  state?: JobState;
  failureReason?: string;
  /** ManifestResult (binary) of a succeeded job. */
  result?: Uint8Array;
  /** SourceInfo (binary) measured by the split. */
  source?: Uint8Array;
  /** EncodeJob (binary) with the ladder the split resolved (replaces the request's). */
  details?: Uint8Array;
  segmentsTotal?: number;
  hasAudio?: 0 | 1;
  /** The new counts after an encode or audio success (absolute: the job row was read under lock). */
  segmentsDone?: number;
  audioDone?: number;
}

/** Everything a transition changes; the store applies all of it in one transaction. */
export interface Effects {
  task: TaskChange;
  /** How the task's current run (task_runs row of its lease) ends. */
  run: { outcome: RunOutcome; error: string | null };
  /** Absent when the job row does not change. */
  job?: JobChange;
  /**
   * Cancel the job's other queued and running tasks (clearing their leases) and
   * end their open runs as `cancelled` with this error: set when the job ends
   * by failure or cancellation.
   */
  cancelOpenTasks?: string;
  /** Tasks to insert (ids already in claim order). */
  create: NewTask[];
  /**
   * Look for a manifest task to insert: the store reads the job's tasks and inserts
   * what `manifestTasks` makes of them (the final manifest once every encode and
   * the audio are done, which only this finish can see as the job row is locked;
   * for a progressive job, the next progressive one).
   */
  createManifest: boolean;
  /** Polls to wake for new runnable work (Infinity: a split's many tasks; 0: none). */
  wake: number;
  /** When a retried task becomes runnable (a timer should wake a poll then). */
  retryAt?: number;
}

const OPEN: readonly JobState[] = [JobState.Queued, JobState.Running];

/** Whether a job in this state may still change. */
export function isOpen(state: JobState): boolean {
  return OPEN.includes(state);
}

/** The effects of `outcome` for `task` of `job` at `now`. Throws InvalidInput for a result of the wrong kind. */
export function decide(
  job: JobFacts,
  task: TaskFacts,
  outcome: TaskOutcome,
  now: number,
  policy: Policy,
): Effects {
  if (!isOpen(job.state))
    return {
      task: { state: TaskState.Cancelled },
      run: { outcome: RunOutcome.Cancelled, error: `job ${job.state}` },
      create: [],
      createManifest: false,
      wake: 0,
    };
  switch (outcome.kind) {
    case 'succeeded': {
      const result = outcome.result;
      if (result.case !== task.kind)
        throw invalidInput(`result: task ${task.id} is a ${task.kind} task, not ${result.case}`);
      const problem = resultProblem(result);
      if (problem) return failed(task, problem, false, now, policy);
      // Segments that are not the task's pieces fail the job with both lists, verbatim.
      const mismatch = segmentsProblem(task, result);
      if (mismatch) return failed(task, mismatch, false, now, policy, mismatch);
      return succeeded(job, task, result, now, policy);
    }
    case 'failed':
      return failed(task, outcome.reason, outcome.transient, now, policy);
    case 'released':
      return {
        task: { state: TaskState.Queued, runAfter: now, attempts: Math.max(0, task.attempts - 1) },
        run: { outcome: RunOutcome.Released, error: outcome.reason },
        create: [],
        createManifest: false,
        wake: 1,
      };
    case 'expired': {
      const seconds = Math.round(outcome.leaseMs / 1000);
      const error = `lease expired: worker ${task.lease_owner ?? '?'} sent no heartbeat for ${seconds} s (stopped, crashed or cut off from the coordinator)`;
      if (task.attempts < task.max_attempts)
        return {
          task: { state: TaskState.Queued, runAfter: now, attempts: task.attempts, lastError: error },
          run: { outcome: RunOutcome.Expired, error },
          create: [],
          createManifest: false,
          wake: 1,
        };
      return failJob({ state: TaskState.Failed, lastError: error }, RunOutcome.Expired, error, {
        reason: failureReason(task, error, true),
      });
    }
  }
}

/** The effects of cancelling `job`; undefined when it already ended. */
export function decideCancel(
  job: Pick<JobRow, 'state'>,
): Pick<Effects, 'job' | 'cancelOpenTasks'> | undefined {
  if (!isOpen(job.state)) return undefined;
  return { job: { state: JobState.Cancelled }, cancelOpenTasks: 'job cancelled' };
}

/** A success that checked out: the job moves on. */
function succeeded(
  job: JobFacts,
  task: TaskFacts,
  result: SuccessResult,
  now: number,
  policy: Policy,
): Effects {
  const base = {
    task: { state: TaskState.Succeeded, result: encodeResult(result) },
    run: { outcome: RunOutcome.Succeeded, error: null },
  } as const;
  switch (result.case) {
    case 'split': {
      const made = splitTasks(job, result.value, now, policy);
      // The split worked but the job asks for what the source cannot give: the job fails with why.
      if ('problem' in made)
        return {
          ...base,
          job: { state: JobState.Failed, failureReason: made.problem },
          cancelOpenTasks: `job failed: ${made.problem}`,
          create: [],
          createManifest: false,
          wake: 0,
        };
      const { tasks, source } = made;
      return {
        ...base,
        job: {
          state: JobState.Running,
          source: toBinary(SourceInfoSchema, source),
          segmentsTotal: made.segmentsTotal,
          hasAudio: source.hasAudio ? 1 : 0,
          ...(made.details ? { details: made.details } : {}),
        },
        create: tasks,
        createManifest: false,
        wake: Number.POSITIVE_INFINITY,
      };
    }
    case 'encode':
    case 'audio': {
      // "Count one task done": the only place it is written.
      const counts = {
        segments_total: job.segments_total,
        has_audio: job.has_audio,
        segments_done: job.segments_done + (result.case === 'encode' ? result.value.segments.length : 0),
        audio_done: result.case === 'audio' ? 1 : job.audio_done,
      };
      // A progressive job looks at every finish whether its published prefix can grow.
      const look = encodesDone(counts) || isProgressiveJob(job);
      return {
        ...base,
        job:
          result.case === 'encode'
            ? { segmentsDone: counts.segments_done }
            : { audioDone: counts.audio_done },
        create: [],
        createManifest: look,
        wake: look ? 1 : 0,
      };
    }
    case 'manifest':
      // A progressive manifest published a prefix: the next one (or the final one) may be due.
      if (isProgressiveManifest(task)) return { ...base, create: [], createManifest: true, wake: 1 };
      // The final manifest is the last task: the job is done.
      return {
        ...base,
        job: { state: JobState.Succeeded, result: base.task.result },
        create: [],
        createManifest: false,
        wake: 0,
      };
  }
}

/**
 * A failure: retried while it is transient and attempts remain, else the job
 * fails with a reason naming the task (or `jobReason` verbatim when given).
 */
function failed(
  task: TaskFacts,
  reason: string,
  transient: boolean,
  now: number,
  policy: Policy,
  jobReason?: string,
): Effects {
  if (transient && task.attempts < task.max_attempts) {
    const retryAt = now + policy.backoffMs(task.attempts);
    return {
      task: { state: TaskState.Queued, runAfter: retryAt, attempts: task.attempts, lastError: reason },
      run: { outcome: RunOutcome.Retried, error: reason },
      create: [],
      createManifest: false,
      wake: 0,
      retryAt,
    };
  }
  return failJob({ state: TaskState.Failed, lastError: reason }, RunOutcome.Failed, reason, {
    reason: jobReason ?? failureReason(task, reason, transient),
  });
}

function failJob(task: TaskChange, outcome: RunOutcome, error: string, job: { reason: string }): Effects {
  return {
    task,
    run: { outcome, error },
    job: { state: JobState.Failed, failureReason: job.reason },
    cancelOpenTasks: `job failed: ${job.reason}`,
    create: [],
    createManifest: false,
    wake: 0,
  };
}

/** The counts that decide whether all of a job's encodes (and its audio) are done. */
export type JobCounts = Pick<JobRow, 'segments_done' | 'segments_total' | 'has_audio' | 'audio_done'>;

/** Whether every segment (and the audio, if any) of the job is done. */
export function encodesDone(c: JobCounts): boolean {
  return c.segments_total > 0 && c.segments_done === c.segments_total && (!c.has_audio || c.audio_done === 1);
}

/** Why a split result cannot be used, or undefined when it is fine. */
function splitProblem(result: SplitResult): string | undefined {
  if (!result.source) return 'split returned no source information';
  if (result.pieces.length === 0) return 'split produced no pieces (is the input empty?)';
  const seen = new Set<number>();
  for (const p of result.pieces) {
    if (p.index >= result.pieces.length || seen.has(p.index))
      return `split returned a bad piece index ${p.index}`;
    if (!p.file?.location.case) return `split returned piece ${p.index} without a file`;
    seen.add(p.index);
  }
  return undefined;
}

/** Why a task result cannot be recorded (a permanent failure of the task), or undefined. */
export function resultProblem(result: SuccessResult): string | undefined {
  switch (result.case) {
    case 'split':
      return splitProblem(result.value);
    case 'encode': {
      const segments = result.value.segments;
      return segments.length === 0 || segments.some((s) => !s.file)
        ? 'encode returned no segment'
        : undefined;
    }
    case 'audio':
      return result.value.audio?.playlist ? undefined : 'audio returned no playlist';
    default:
      return undefined;
  }
}

/**
 * Why an encode's segments cannot be counted: one segment per piece, in order,
 * for each of its rungs in the task's order (anything else would leave the count
 * short forever). Undefined when fine.
 */
function segmentsProblem(task: TaskFacts, result: SuccessResult): string | undefined {
  if (result.case !== 'encode') return undefined;
  const scan = scanPayload(task.payload);
  const pieces = scan.pieces ?? [];
  const rungs = scan.rungs ?? [undefined];
  const segments = result.value.segments;
  const expected = (s: Segment, k: number) =>
    s.index === pieces[k % pieces.length] &&
    (rungs.length === 1 || s.renditionIndex === rungs[Math.floor(k / pieces.length)]);
  if (segments.length === pieces.length * rungs.length && segments.every(expected)) return undefined;
  const got = segments.map((s) => (rungs.length > 1 ? `${s.renditionIndex}:${s.index}` : s.index)).join(',');
  const of = rungs.length > 1 ? ` of rungs [${rungs.join(',')}]` : '';
  return `${taskTitle(task)} returned segments [${got}] for pieces [${pieces.join(',')}]${of}`;
}

/** The job's failure reason when `task` fails for good. */
export function failureReason(
  task: Pick<TaskRow, 'kind' | 'idx' | 'attempts' | 'payload'>,
  reason: string,
  retried: boolean,
): string {
  const tries = retried && task.attempts > 1 ? ` (after ${task.attempts} attempts)` : '';
  return `${taskTitle(task)} failed${tries}: ${reason}`;
}
