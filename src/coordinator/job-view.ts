// The Job message clients see, built from the job row and its tasks, with
// storage secrets removed.
import { create, fromBinary } from '@bufbuild/protobuf';
import type { JobRow, TaskBrief } from '../db/index.js';
import { JobState, TaskKind, TaskState } from '../db/states.js';
import {
  EncodeJobSchema,
  type Job,
  JobSchema,
  JobState as JobStateProto,
  type RenditionProgress,
  RenditionProgressSchema,
  type TaskSummary,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Rendition, SourceInfoSchema } from '../gen/avspl1t/v1/media_pb.js';
import type { File } from '../gen/avspl1t/v1/storage_pb.js';
import { decodeManifest } from './codec.js';
import { encodeSpans, percentComplete } from './progress.js';
import { redacted } from './redact.js';
import { encodeTaskPlace, type TaskPlace } from './task-index.js';

const STATE: Record<JobState, JobStateProto> = {
  [JobState.Queued]: JobStateProto.QUEUED,
  [JobState.Running]: JobStateProto.RUNNING,
  [JobState.Succeeded]: JobStateProto.SUCCEEDED,
  [JobState.Failed]: JobStateProto.FAILED,
  [JobState.Cancelled]: JobStateProto.CANCELLED,
};

/** Which rungs an encode task covers (-1: every rung) and its first piece, from its idx. */
function rungOf(
  idx: number,
  ladder: readonly Rendition[],
  segmentsTotal: number,
  together: boolean,
): TaskPlace {
  // Jobs split by earlier versions have a task per rung even for a ladder (together false).
  const pieces = ladder.length > 0 ? segmentsTotal / ladder.length : 0;
  return encodeTaskPlace(idx, ladder.length, pieces, together);
}

/** Segments encoded per rung, from the succeeded encode tasks (empty before the split). */
function renditionProgress(
  tasks: readonly TaskBrief[],
  ladder: readonly Rendition[],
  segmentsTotal: number,
  together: boolean,
): RenditionProgress[] {
  if (segmentsTotal === 0 || ladder.length === 0 || segmentsTotal % ladder.length !== 0) return [];
  const out = ladder.map((r) =>
    create(RenditionProgressSchema, {
      name: r.name,
      segmentsDone: 0,
      segmentsTotal: segmentsTotal / ladder.length,
    }),
  );
  for (const [t, segments] of encodeSpans(tasks, segmentsTotal))
    if (t.state === TaskState.Succeeded) {
      const { rung } = rungOf(t.idx, ladder, segmentsTotal, together);
      // A task of every rung made `segments / rungs` segments of each.
      if (rung < 0) for (const r of out) r.segmentsDone += segments / ladder.length;
      else if (out[rung]) out[rung].segmentsDone += segments;
    }
  return out;
}

/** TaskSummary.rendition of a task that encodes every rung. */
export const ALL_RUNGS = 'all rungs';

/** Tasks worth showing: running ones (with their worker), retried ones (with their last error) and failed ones. */
function summaries(
  tasks: readonly TaskBrief[],
  segmentsTotal: number,
  ladder: readonly Rendition[],
  together: boolean,
): TaskSummary[] {
  const spans = encodeSpans(tasks, segmentsTotal);
  return tasks
    .filter(
      (t) =>
        t.state === TaskState.Running ||
        t.attempts > 1 ||
        t.state === TaskState.Failed ||
        (t.last_error ?? '') !== '',
    )
    .map((t) => {
      const at =
        t.kind === TaskKind.Encode
          ? rungOf(t.idx, ladder, segmentsTotal, together)
          : { rung: -2, piece: t.idx };
      const span = spans.get(t) ?? 0;
      return {
        $typeName: 'avspl1t.v1.TaskSummary',
        id: t.id,
        kind: t.kind,
        index: at.piece,
        rendition: at.rung === -1 ? ALL_RUNGS : (ladder[at.rung]?.name ?? ''),
        state: t.state,
        attempts: t.attempts,
        lastError: t.last_error ?? '',
        workerId: t.lease_owner ?? '',
        // Per rung: a task of every rung covers `span / rungs` consecutive segments of each.
        segments: at.rung === -1 ? span / ladder.length : span,
      };
    });
}

/** The client-facing Job for a row and its tasks (secrets redacted). */
export function jobView(row: JobRow, tasks: readonly TaskBrief[]): Job {
  let manifest: File | undefined;
  if (row.result) manifest = decodeManifest(row.result).master;
  const details = fromBinary(EncodeJobSchema, row.details);
  // Before the split the renditions are the request's; the counts exist only after it.
  const ladder = row.source ? details.renditions : [];
  const job = create(JobSchema, {
    id: row.id,
    state: STATE[row.state],
    percentComplete: percentComplete(row, tasks),
    manifest,
    details,
    createdAtMs: BigInt(row.created_at),
    updatedAtMs: BigInt(row.updated_at),
    finishedAtMs: BigInt(row.finished_at ?? 0),
    failureReason: row.failure_reason ?? '',
    segmentsTotal: row.segments_total,
    segmentsDone: row.segments_done,
    tasks: summaries(tasks, row.segments_total, ladder, details.rungsTogether),
    renditions: renditionProgress(tasks, ladder, row.segments_total, details.rungsTogether),
    warnings: row.source ? fromBinary(SourceInfoSchema, row.source).warnings : [],
  });
  return redacted(JobSchema, job);
}
