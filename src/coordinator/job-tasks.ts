// The tasks of a job, built from its details: the split task of a new job, the
// encode tasks (each covering every rung of its ladder) and audio task a split's pieces make, and the manifest task once they
// are done. Pure (but for fresh ids); decide.ts says when each is made.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { orderedId } from '../db/ids.js';
import type { JobRow, NewTask, TaskRow } from '../db/schema.js';
import { JobState, TaskKind, TaskState } from '../db/states.js';
import type { EncodeJob, SplitResult } from '../gen/avspl1t/v1/coordinator_pb.js';
import { EncodeJobSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Rendition, type SourceInfo, SourceInfoSchema } from '../gen/avspl1t/v1/media_pb.js';
import { resolveLadder, type SourceSize } from '../media/ladder.js';
import { childFolder } from '../storage/index.js';
import { decodeAudio, decodeEncode, encodePayload, type TaskKindInit } from './codec.js';
import type { JobFacts, Policy } from './decide.js';
import { ladderEncodeTasks, rungsTogether } from './ladder-tasks.js';

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

/** What a split's pieces make: the tasks, and the job's details when its ladder was resolved. */
export type SplitTasks =
  | {
      tasks: NewTask[];
      source: SourceInfo;
      /** Encode segments to wait for: one per piece and rung. */
      segmentsTotal: number;
      /** The job's details with the resolved rungs (absent for the single rendition, which stays implicit). */
      details?: Uint8Array;
    }
  /** The ladder cannot be made from this source (a rung larger than it): the job fails with this reason. */
  | { problem: string };

/** What the ladder needs of the source: its size and frame rate. */
function sourceSize(source: SourceInfo): SourceSize {
  const fr = source.frameRate;
  return { width: source.width, height: source.height, fps: fr?.den ? fr.num / fr.den : 30 };
}

/** The encode tasks (one per group of pieces, every rung) and audio task a split's pieces make. */
export function splitTasks(job: JobFacts, split: SplitResult, now: number, policy: Policy): SplitTasks {
  const d = fromBinary(EncodeJobSchema, job.details);
  const { input, secondsPerSegment, parallelism } = d;
  const output = mediaOutput(d);
  const source = split.source!;
  const pieces = [...split.pieces].sort((a, b) => a.index - b.index);
  let ladder: Rendition[];
  try {
    ladder = resolveLadder(d, sourceSize(source));
  } catch (err) {
    // A listed rung the source cannot give (larger than it): the job fails naming it.
    return { problem: err instanceof Error ? err.message : String(err) };
  }
  // A progressive job encodes one segment per task, in timeline order: its first
  // segments are done (and published) first, at the cost of an encoder start-up each.
  const progressive = d.progressive;
  const tasks = ladderEncodeTasks(
    pieces,
    ladder,
    source,
    output!,
    progressive ? 0 : parallelism,
    progressive,
  ).map((e) =>
    newTask(job, TaskKind.Encode, e.idx, e.rank + 1, { case: 'encode', value: e.task }, now, policy),
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
  // A ladder's resolved rungs replace the request (views, the manifest and `retry` read them
  // from here); the single rendition stays implicit (no renditions), as requested.
  const details = ladder.some((r) => r.name)
    ? toBinary(
        EncodeJobSchema,
        create(EncodeJobSchema, {
          ...d,
          ladder: '',
          renditions: ladder,
          rungsTogether: rungsTogether(ladder.length, progressive ? 0 : parallelism, progressive),
        }),
      )
    : undefined;
  return {
    tasks: inClaimOrder(tasks),
    source,
    segmentsTotal: pieces.length * ladder.length,
    ...(details ? { details } : {}),
  };
}

/** A task's kind, index, state and result: what the manifest tasks are made of. */
export type TaskResult = Pick<TaskRow, 'kind' | 'idx' | 'state' | 'result'>;

/**
 * A manifest task of `job` from its tasks' results: the final one (every encode
 * and the audio done), or with `upTo` a progressive one listing segments
 * 0..upTo-1 of every rung (its idx is `upTo`; the final one's is 0).
 */
export function manifestTask(
  job: Pick<JobRow, 'id' | 'created_at' | 'details' | 'source' | 'segments_total'>,
  results: readonly TaskResult[],
  now: number,
  policy: Policy,
  upTo?: number,
): NewTask {
  const details = fromBinary(EncodeJobSchema, job.details);
  const segments = results
    .filter((t) => t.kind === TaskKind.Encode && t.result)
    .sort((a, b) => a.idx - b.idx)
    .flatMap((t) => decodeEncode(t.result!).segments)
    .filter((s) => upTo === undefined || s.index < upTo);
  const audioRow = results.find((t) => t.kind === TaskKind.Audio);
  const audio = audioRow?.result ? decodeAudio(audioRow.result).audio : undefined;
  const source: SourceInfo = job.source ? fromBinary(SourceInfoSchema, job.source) : create(SourceInfoSchema);
  const value = {
    segments,
    source,
    output: details.output,
    audio,
    mediaFolder: details.mediaFolder,
    renditions: details.renditions,
    // A progressive write leaves the working folder alone: encodes still read and write there.
    ...(upTo === undefined ? { working: details.working } : { progressive: true }),
  };
  const kind = { case: 'manifest', value } as const;
  // A progressive one is claimed before the job's queued encodes (ord 0): a player is waiting for it.
  const ord = upTo === undefined ? job.segments_total + 1 : 0;
  return newTask(job, TaskKind.Manifest, upTo ?? 0, ord, kind, now, policy);
}
