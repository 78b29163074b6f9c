// The tasks of a job, built from its details: the split task of a new job, the
// encode and audio tasks a split's pieces make, and the manifest task once they
// are done. Pure (but for fresh ids); decide.ts says when each is made.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { orderedId } from '../db/ids.js';
import type { JobRow, NewTask, TaskRow } from '../db/schema.js';
import { JobState, TaskKind, TaskState } from '../db/states.js';
import type { EncodeJob, SplitResult } from '../gen/avspl1t/v1/coordinator_pb.js';
import { EncodeJobSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type SourceInfo, SourceInfoSchema } from '../gen/avspl1t/v1/media_pb.js';
import { childFolder } from '../storage/index.js';
import { decodeAudio, decodeEncode, encodePayload, type TaskKindInit } from './codec.js';
import type { JobFacts, Policy } from './decide.js';
import { groupPieces, longestFirst } from './schedule-policy.js';

/** A queued task of `job`. */
function newTask(
  job: Pick<JobRow, 'id' | 'created_at'>,
  kind: TaskKind,
  idx: number,
  ord: number,
  payload: TaskKindInit,
  now: number,
  policy: Policy,
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
    max_attempts: policy.maxAttempts,
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

/** A new job's row and its split task. */
export function newJob(
  id: string,
  details: EncodeJob,
  now: number,
  policy: Policy,
): { job: JobRow; tasks: NewTask[] } {
  const job: JobRow = {
    id,
    state: JobState.Queued,
    details: toBinary(EncodeJobSchema, details),
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
  const split = {
    input: details.input,
    working: details.working,
    secondsPerSegment: details.secondsPerSegment,
  };
  return { job, tasks: [newTask(job, TaskKind.Split, 0, 0, { case: 'split', value: split }, now, policy)] };
}

/** The encode tasks (and audio task) a split's pieces make. */
export function splitTasks(
  job: JobFacts,
  split: SplitResult,
  now: number,
  policy: Policy,
): { tasks: NewTask[]; source: SourceInfo } {
  const d = fromBinary(EncodeJobSchema, job.details);
  const { input, settings, secondsPerSegment, parallelism } = d;
  const output = mediaOutput(d);
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
      policy,
    ),
  );
  if (source.hasAudio)
    tasks.unshift(
      newTask(
        job,
        TaskKind.Audio,
        0,
        0,
        { case: 'audio', value: { input, source, output, secondsPerSegment } },
        now,
        policy,
      ),
    );
  return { tasks: inClaimOrder(tasks), source };
}

/** A task's kind, index and result: what `manifestTask` reads of a job's tasks. */
export type TaskResult = Pick<TaskRow, 'kind' | 'idx' | 'result'>;

/** The manifest task of `job` (its encodes and audio done), from its tasks' results. */
export function manifestTask(
  job: Pick<JobRow, 'id' | 'created_at' | 'details' | 'source' | 'segments_total'>,
  results: readonly TaskResult[],
  now: number,
  policy: Policy,
): NewTask {
  const details = fromBinary(EncodeJobSchema, job.details);
  const segments = results
    .filter((t) => t.kind === TaskKind.Encode)
    .sort((a, b) => a.idx - b.idx)
    .flatMap((t) => decodeEncode(t.result!).segments);
  const audioRow = results.find((t) => t.kind === TaskKind.Audio);
  const audio = audioRow?.result ? decodeAudio(audioRow.result).audio : undefined;
  const source: SourceInfo = job.source ? fromBinary(SourceInfoSchema, job.source) : create(SourceInfoSchema);
  const value = {
    segments,
    source,
    output: details.output,
    audio,
    mediaFolder: details.mediaFolder,
    working: details.working,
  };
  return newTask(job, TaskKind.Manifest, 0, job.segments_total + 1, { case: 'manifest', value }, now, policy);
}
