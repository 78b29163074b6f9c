// Which manifest task a job needs after a finish: the final one once every encode
// and the audio succeeded, and for a progressive job, before that, one that
// publishes the complete prefix of segments (all rungs and the audio) as EVENT
// playlists. At most one manifest task of a job is open at a time, so published
// prefixes only grow and the final VOD playlists are the last ones written.
// Pure (but for fresh ids); the stores call it inside the finish transaction.
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { JobRow, NewTask, TaskRow } from '../db/schema.js';
import { TaskKind, TaskState } from '../db/states.js';
import { EncodeJobSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import { decodeEncode } from './codec.js';
import type { Policy } from './decide.js';
import { manifestTask, type TaskResult } from './job-tasks.js';

/** Whether `task` is a progressive manifest (idx = segments it publishes per rung; the final one's is 0). */
export function isProgressiveManifest(task: Pick<TaskRow, 'kind' | 'idx'>): boolean {
  return task.kind === TaskKind.Manifest && task.idx > 0;
}

const PROGRESSIVE_FIELD = EncodeJobSchema.field.progressive!.number;

/**
 * Whether the job asked for progressive playlists (EncodeJob.progressive). Every
 * encode's finish asks, so it reads the one field with protobuf-es's wire reader
 * instead of decoding all of the details.
 */
export function isProgressiveJob(job: Pick<JobRow, 'details'>): boolean {
  const reader = new BinaryReader(job.details);
  let progressive = false;
  while (reader.pos < reader.len) {
    const [field, type] = reader.tag();
    if (field === PROGRESSIVE_FIELD && type === WireType.Varint) progressive = reader.bool();
    else reader.skip(type, field);
  }
  return progressive;
}

const isOpen = (t: TaskResult) => t.state === TaskState.Queued || t.state === TaskState.Running;

/**
 * How many segments, from 0, are encoded in every one of `rungs` rungs with the
 * audio done: the prefix a player can be given.
 */
export function completePrefix(tasks: readonly TaskResult[], rungs: number): number {
  if (tasks.some((t) => t.kind === TaskKind.Audio && t.state !== TaskState.Succeeded)) return 0;
  const done = Array.from({ length: rungs }, () => new Set<number>());
  for (const t of tasks)
    if (t.kind === TaskKind.Encode && t.state === TaskState.Succeeded && t.result)
      for (const s of decodeEncode(t.result).segments) done[s.renditionIndex]?.add(s.index);
  return Math.min(
    ...done.map((set) => {
      let n = 0;
      while (set.has(n)) n++;
      return n;
    }),
  );
}

/**
 * The manifest tasks to insert for `job` whose tasks are now `tasks` (rows as
 * this finish leaves them): none while one is open; the final one once every
 * encode and the audio succeeded (once); else, for a progressive job, one for
 * the complete prefix when it grew past the last one handed out.
 */
export function manifestTasks(
  job: Pick<JobRow, 'id' | 'created_at' | 'details' | 'source' | 'segments_total'>,
  tasks: readonly TaskResult[],
  now: number,
  policy: Policy,
): NewTask[] {
  const manifests = tasks.filter((t) => t.kind === TaskKind.Manifest);
  if (manifests.some(isOpen)) return [];
  const work = tasks.filter((t) => t.kind === TaskKind.Encode || t.kind === TaskKind.Audio);
  if (work.length > 0 && work.every((t) => t.state === TaskState.Succeeded))
    return manifests.some((t) => !isProgressiveManifest(t)) ? [] : [manifestTask(job, tasks, now, policy)];
  const details = fromBinary(EncodeJobSchema, job.details);
  if (!details.progressive) return [];
  const prefix = completePrefix(tasks, details.renditions.length || 1);
  const published = Math.max(0, ...manifests.map((t) => t.idx));
  return prefix > published ? [manifestTask(job, tasks, now, policy, prefix)] : [];
}
