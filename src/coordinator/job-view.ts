// The Job message clients see, built from the job row and its tasks, with
// storage secrets removed.
import { create, fromBinary } from '@bufbuild/protobuf';
import type { JobRow, TaskBrief } from '../db/index.js';
import { JobState, TaskState } from '../db/states.js';
import {
  EncodeJobSchema,
  type Job,
  JobSchema,
  JobState as JobStateProto,
  type TaskSummary,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import { SourceInfoSchema } from '../gen/avspl1t/v1/media_pb.js';
import type { File } from '../gen/avspl1t/v1/storage_pb.js';
import { decodeManifest } from './codec.js';
import { encodeSpans, percentComplete } from './progress.js';
import { redacted } from './redact.js';

const STATE: Record<JobState, JobStateProto> = {
  [JobState.Queued]: JobStateProto.QUEUED,
  [JobState.Running]: JobStateProto.RUNNING,
  [JobState.Succeeded]: JobStateProto.SUCCEEDED,
  [JobState.Failed]: JobStateProto.FAILED,
  [JobState.Cancelled]: JobStateProto.CANCELLED,
};

/** Tasks worth showing: running ones (with their worker), retried ones (with their last error) and failed ones. */
function summaries(tasks: readonly TaskBrief[], segmentsTotal: number): TaskSummary[] {
  const spans = encodeSpans(tasks, segmentsTotal);
  return tasks
    .filter(
      (t) =>
        t.state === TaskState.Running ||
        t.attempts > 1 ||
        t.state === TaskState.Failed ||
        (t.last_error ?? '') !== '',
    )
    .map((t) => ({
      $typeName: 'avspl1t.v1.TaskSummary',
      id: t.id,
      kind: t.kind,
      index: t.idx,
      state: t.state,
      attempts: t.attempts,
      lastError: t.last_error ?? '',
      workerId: t.lease_owner ?? '',
      segments: spans.get(t) ?? 0,
    }));
}

/** The client-facing Job for a row and its tasks (secrets redacted). */
export function jobView(row: JobRow, tasks: readonly TaskBrief[]): Job {
  let manifest: File | undefined;
  if (row.result) manifest = decodeManifest(row.result).master;
  const job = create(JobSchema, {
    id: row.id,
    state: STATE[row.state],
    percentComplete: percentComplete(row, tasks),
    manifest,
    details: fromBinary(EncodeJobSchema, row.details),
    createdAtMs: BigInt(row.created_at),
    updatedAtMs: BigInt(row.updated_at),
    finishedAtMs: BigInt(row.finished_at ?? 0),
    failureReason: row.failure_reason ?? '',
    segmentsTotal: row.segments_total,
    segmentsDone: row.segments_done,
    tasks: summaries(tasks, row.segments_total),
    warnings: row.source ? fromBinary(SourceInfoSchema, row.source).warnings : [],
  });
  return redacted(JobSchema, job);
}
