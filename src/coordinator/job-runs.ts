// The runs (claims) of one job's tasks as TaskRun messages, for the console's
// task timeline (ListJobRuns); the rows come from the TaskStore.
import { create } from '@bufbuild/protobuf';
import type { TaskStore } from '../db/index.js';
import { type TaskRun, TaskRunSchema } from '../gen/avspl1t/v1/coordinator_pb.js';

/** Runs of the job's tasks in start order (at most `limit`). */
export async function jobRuns(store: TaskStore, jobId: string, limit = 10_000): Promise<TaskRun[]> {
  const rows = await store.jobRuns(jobId, limit);
  return rows.map((r) =>
    create(TaskRunSchema, {
      taskId: r.task_id,
      kind: r.kind,
      index: r.idx,
      attempt: r.attempt,
      workerId: r.worker_id,
      startedAtMs: BigInt(r.started_at),
      endedAtMs: BigInt(r.ended_at ?? 0),
      outcome: r.outcome ?? '',
      error: r.error ?? '',
    }),
  );
}
