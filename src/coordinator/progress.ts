// percent_complete of a job from its tasks: finished work plus the reported
// progress of running tasks, weighted so that the encodes dominate.
import { JobState, TaskKind, TaskState } from '../db/states.js';

/** Share of the job each kind of work stands for (encodes split theirs evenly). */
export const WEIGHTS = { split: 5, audio: 5, encode: 85, manifest: 5 } as const;

export interface ProgressTask {
  kind: string;
  /** For encodes: the first segment the task covers (tasks cover consecutive runs). */
  idx: number;
  state: string;
  progress: number;
}

export interface ProgressJob {
  state: string;
  segments_total: number;
  has_audio: number;
}

function doneFraction(t: ProgressTask | undefined): number {
  if (!t) return 0;
  if (t.state === TaskState.Succeeded) return 1;
  if (t.state === TaskState.Running || t.state === TaskState.Cancelled || t.state === TaskState.Failed)
    return Number.isFinite(t.progress) ? Math.min(1, Math.max(0, t.progress)) : 0;
  return 0;
}

/**
 * Each encode task with the number of segments it covers: from its idx up to the
 * next encode's idx (tasks cover consecutive runs), at least one.
 */
export function encodeSpans<T extends ProgressTask>(
  tasks: readonly T[],
  segmentsTotal: number,
): Map<T, number> {
  const encodes = tasks.filter((t) => t.kind === TaskKind.Encode).sort((a, b) => a.idx - b.idx);
  return new Map(
    encodes.map((t, i) => [t, Math.max(1, (encodes[i + 1]?.idx ?? segmentsTotal) - t.idx)] as const),
  );
}

/** Percent complete in [0, 100], one decimal. */
export function percentComplete(job: ProgressJob, tasks: readonly ProgressTask[]): number {
  if (job.state === JobState.Succeeded) return 100;
  let sum = WEIGHTS.split * doneFraction(tasks.find((t) => t.kind === TaskKind.Split));
  let total = 100;
  if (job.segments_total > 0) {
    // An encode task covers the segments from its idx up to the next task's idx.
    let encoded = 0;
    for (const [t, segments] of encodeSpans(tasks, job.segments_total)) encoded += segments * doneFraction(t);
    sum += (WEIGHTS.encode * encoded) / job.segments_total;
    if (job.has_audio) sum += WEIGHTS.audio * doneFraction(tasks.find((t) => t.kind === TaskKind.Audio));
    else total -= WEIGHTS.audio;
    // The final manifest (idx 0): a progressive job's earlier ones are not work left.
    sum += WEIGHTS.manifest * doneFraction(tasks.find((t) => t.kind === TaskKind.Manifest && t.idx === 0));
  }
  // Never claim 100 before the job has really succeeded.
  return Math.min(99.9, Math.round((1000 * sum) / total) / 10);
}
