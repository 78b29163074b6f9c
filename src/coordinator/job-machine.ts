// The job state machine. Each function runs inside one store transaction with the
// job row locked, so a finish, the tasks it creates and the job's new state commit
// together. split → encodes of one or more consecutive pieces (+ audio) → manifest when all succeeded →
// job succeeded; a permanent failure (or too many attempts) fails the job and
// cancels its other tasks.
import { randomUUID } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { notFound } from '../errors.js';
import type { EncodeJob, SplitResult } from '../gen/avspl1t/v1/coordinator_pb.js';
import { EncodeJobSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type SourceInfo, SourceInfoSchema } from '../gen/avspl1t/v1/media_pb.js';
import { groupPieces, longestFirst } from '../media/plan.js';
import { childFolder } from '../storage/index.js';
import { orderedId } from '../db/ids.js';
import {
  type FinishedTask,
  type JobCounts,
  type JobRow,
  JobState,
  type NewTask,
  type Queries,
  RunOutcome,
  TaskKind,
  type TaskResult,
  type TaskRow,
  TaskState,
} from '../db/index.js';
import {
  decodeAudio,
  decodeEncode,
  encodePayload,
  encodePieces,
  type SuccessResult,
  type TaskKindInit,
  taskTitle,
} from './codec.js';

export interface MachineConfig {
  maxAttempts: number;
  /** Delay before retry number `attempts + 1`, in ms. */
  backoffMs: (attempts: number) => number;
}

/** What a transition changed, so the caller knows whom to wake. */
export interface Effects {
  /** New runnable tasks exist. */
  newWork: boolean;
}

const OPEN: readonly JobState[] = [JobState.Queued, JobState.Running];

function newTask(
  job: JobRow,
  kind: TaskKind,
  idx: number,
  ord: number,
  payload: TaskKindInit,
  now: number,
  cfg: MachineConfig,
): NewTask {
  return {
    id: orderedId(),
    job_id: job.id,
    kind,
    idx,
    ord,
    job_created_at: job.created_at,
    state: TaskState.Queued,
    payload: encodePayload(payload),
    result: null,
    attempts: 0,
    max_attempts: cfg.maxAttempts,
    lease: null,
    lease_owner: null,
    lease_expires_at: null,
    run_after: now,
    last_error: null,
    progress: 0,
    created_at: now,
    updated_at: now,
    finished_at: null,
  };
}

/**
 * Gives `tasks` ids that sort as they will be claimed (by `ord`): consecutive
 * claims and finishes then touch neighbouring entries of the id indexes.
 */
function inClaimOrder(tasks: NewTask[]): NewTask[] {
  const ids = tasks.map(() => orderedId());
  [...tasks]
    .sort((a, b) => a.ord - b.ord)
    .forEach((t, i) => {
      t.id = ids[i]!;
    });
  return tasks;
}

/** Where a job's encodes and audio write: its media folder under the output. */
function mediaOutput(job: EncodeJob): EncodeJob['output'] {
  return job.mediaFolder && job.output ? childFolder(job.output, job.mediaFolder) : job.output;
}

/** Inserts a validated job and its split task; returns the job id. */
export async function createJob(
  q: Queries,
  job: EncodeJob,
  now: number,
  cfg: MachineConfig,
  id: string = randomUUID(),
): Promise<string> {
  const row: JobRow = {
    id,
    state: JobState.Queued,
    details: toBinary(EncodeJobSchema, job),
    source: null,
    result: null,
    failure_reason: null,
    segments_total: 0,
    segments_done: 0,
    has_audio: 0,
    audio_done: 0,
    created_at: now,
    updated_at: now,
    finished_at: null,
  };
  await q.jobs.insert(row);
  const split = { input: job.input, working: job.working, secondsPerSegment: job.secondsPerSegment };
  await q.tasks.insert([newTask(row, TaskKind.Split, 0, 0, { case: 'split', value: split }, now, cfg)]);
  return row.id;
}

/** Fails an open job with `reason` and cancels its remaining tasks. */
export async function failJob(q: Queries, job: JobRow, reason: string, now: number): Promise<void> {
  const changed = await q.jobs.update(
    job.id,
    { state: JobState.Failed, failure_reason: reason, updated_at: now, finished_at: now },
    OPEN,
  );
  if (!changed) return;
  await q.tasks.cancelOpen(job.id, now);
  await q.runs.endOpenForJob(job.id, now, RunOutcome.Cancelled, `job failed: ${reason}`);
}

/** Cancels an open job and its tasks; returns whether it was open. */
export async function cancelJob(q: Queries, jobId: string, now: number): Promise<boolean> {
  const job = await q.jobs.get(jobId, { lock: true });
  if (!job) throw notFound(`job ${jobId} not found`);
  const changed = await q.jobs.update(
    jobId,
    { state: JobState.Cancelled, updated_at: now, finished_at: now },
    OPEN,
  );
  if (!changed) return false;
  await q.tasks.cancelOpen(jobId, now);
  await q.runs.endOpenForJob(jobId, now, RunOutcome.Cancelled, 'job cancelled');
  return true;
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

/** Checks a task result before it is recorded; a problem is a permanent failure of the task. */
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

/** Moves the job forward after `task` succeeded with `result` (creating the next tasks). */
export async function advance(
  q: Queries,
  job: JobRow,
  task: TaskRow,
  now: number,
  cfg: MachineConfig,
  result: SuccessResult,
): Promise<Effects> {
  // Decoded only where new tasks need it: most finishes are encodes that just count.
  const details = () => fromBinary(EncodeJobSchema, job.details);
  if (result.case === 'split') {
    const d = details();
    const { input, settings, secondsPerSegment, parallelism } = d;
    const output = mediaOutput(d);
    const split = result.value;
    const source = split.source!;
    const pieces = [...split.pieces].sort((a, b) => a.index - b.index);
    const groups = groupPieces(pieces, parallelism);
    const rank = longestFirst(groups);
    const tasks = groups.map((group, g) =>
      newTask(
        job,
        TaskKind.Encode,
        group[0]!.index,
        rank[g]! + 1,
        {
          case: 'encode',
          value: { pieces: group, source, output, settings, tail: rank[g]! >= groups.length - parallelism },
        },
        now,
        cfg,
      ),
    );
    if (source.hasAudio) {
      const audio = {
        input,
        source,
        output,
        secondsPerSegment,
      };
      tasks.unshift(newTask(job, TaskKind.Audio, 0, 0, { case: 'audio', value: audio }, now, cfg));
    }
    await q.tasks.insert(inClaimOrder(tasks));
    await q.jobs.update(job.id, {
      source: toBinary(SourceInfoSchema, source),
      segments_total: pieces.length,
      has_audio: source.hasAudio ? 1 : 0,
      updated_at: now,
    });
    return { newWork: true };
  }
  const count = jobCount(result);
  if (count) {
    const problem = segmentsProblem(task, result);
    if (problem) {
      await failJob(q, job, problem, now);
      return { newWork: false };
    }
    const counted = await q.jobs.countDone(job.id, count.column, now, count.by);
    return counted ? completeEncodes(q, counted, now, cfg) : { newWork: false };
  }
  // The manifest is the last task: the job is done.
  await q.jobs.update(
    job.id,
    { state: JobState.Succeeded, result: task.result, updated_at: now, finished_at: now },
    OPEN,
  );
  return { newWork: false };
}

/**
 * Whether an encode or audio success that was counted without its job read first
 * (TaskQueries.succeedCounting; `counts` are the job's after it)
 * leaves more to do: the manifest task once everything is done, or failing the
 * job when the segments do not match the pieces. Then run `advanceCounted`.
 */
export function countedNeedsMore(task: FinishedTask, counts: JobCounts, result: SuccessResult): boolean {
  return complete(counts) || segmentsProblem(task, result) !== undefined;
}

/**
 * The rest of an encode or audio finish that was counted (see
 * `countedNeedsMore`), in a transaction (SQLite: the same one): locks the job, fails it when
 * the segments do not match the pieces, else creates the manifest task when
 * every encode (and audio) is done. Safe to run again.
 */
export async function advanceCounted(
  q: Queries,
  task: FinishedTask,
  now: number,
  cfg: MachineConfig,
  result: SuccessResult,
): Promise<Effects> {
  const job = await q.jobs.get(task.job_id, { lock: true });
  if (!job || !OPEN.includes(job.state)) return { newWork: false };
  const problem = segmentsProblem(task, result);
  if (problem) {
    await failJob(q, job, problem, now);
    return { newWork: false };
  }
  return completeEncodes(q, job, now, cfg);
}

/** The repair sweep's part: the manifest task of a running job counted done without one (see JobQueries.countedWithoutManifest). */
export async function repairCounted(
  q: Queries,
  jobId: string,
  now: number,
  cfg: MachineConfig,
): Promise<Effects> {
  const job = await q.jobs.get(jobId, { lock: true });
  if (!job || job.state !== JobState.Running) return { newWork: false };
  return completeEncodes(q, job, now, cfg);
}

/**
 * Creates the manifest task of `job` (locked, counts current) once every encode
 * (and the audio) is done, unless it exists already: a finish and the repair
 * sweep (Scheduler) may both get here.
 */
export async function completeEncodes(
  q: Queries,
  job: JobRow,
  now: number,
  cfg: MachineConfig,
): Promise<Effects> {
  if (!complete(job)) return { newWork: false };
  const rows = await q.tasks.results(job.id);
  if (rows.some((t) => t.kind === TaskKind.Manifest)) return { newWork: false };
  await q.tasks.insert([manifestTask(rows, job, now, cfg)]);
  return { newWork: true };
}

/**
 * Where an encode or audio success counts on its job and by how much (an encode:
 * its segments, one per piece); undefined for a split or manifest.
 */
export function jobCount(
  result: SuccessResult,
): { column: 'segments_done' | 'audio_done'; by: number } | undefined {
  if (result.case === 'encode') return { column: 'segments_done', by: result.value.segments.length };
  if (result.case === 'audio') return { column: 'audio_done', by: 1 };
  return undefined;
}

/** Whether every segment (and the audio, if any) of the job is done. */
function complete(c: JobCounts): boolean {
  return c.segments_done === c.segments_total && (!c.has_audio || c.audio_done === 1);
}

/**
 * Why an encode's segments cannot be counted: one segment per piece, in order
 * (anything else would leave the count short forever). Undefined when fine.
 */
function segmentsProblem(task: FinishedTask, result: SuccessResult): string | undefined {
  if (result.case !== 'encode') return undefined;
  const pieces = encodePieces(task);
  const segments = result.value.segments;
  if (segments.length === pieces.length && segments.every((s, i) => s.index === pieces[i])) return undefined;
  const got = segments.map((s) => s.index).join(',');
  const want = pieces.join(',');
  return `${taskTitle(task)} returned segments [${got}] for pieces [${want}]`;
}

/** The manifest task of `job`, from its task rows (the encodes' and audio's results). */
function manifestTask(rows: TaskResult[], job: JobRow, now: number, cfg: MachineConfig): NewTask {
  const details = fromBinary(EncodeJobSchema, job.details);
  const segments = rows
    .filter((t) => t.kind === TaskKind.Encode)
    .sort((a, b) => a.idx - b.idx)
    .flatMap((t) => decodeEncode(t.result!).segments);
  const audioRow = rows.find((t) => t.kind === TaskKind.Audio);
  const audio = audioRow?.result ? decodeAudio(audioRow.result).audio : undefined;
  const source: SourceInfo = job.source ? fromBinary(SourceInfoSchema, job.source) : create(SourceInfoSchema);
  return newTask(
    job,
    TaskKind.Manifest,
    0,
    job.segments_total + 1,
    {
      case: 'manifest',
      value: {
        segments,
        source,
        output: details.output,
        audio,
        mediaFolder: details.mediaFolder,
        working: details.working,
      },
    },
    now,
    cfg,
  );
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
