// The runs (claims) of one job's tasks, for the console's task timeline: a
// read of task_runs joined to tasks, plain SQL that SQLite and PostgreSQL both run.
import { create } from '@bufbuild/protobuf';
import { type QueryExecutorProvider, sql } from 'kysely';
import { type TaskRun, TaskRunSchema } from '../gen/avspl1t/v1/coordinator_pb.js';

/** Runs of the job's tasks in start order (at most `limit`). */
export async function jobRuns(db: QueryExecutorProvider, jobId: string, limit = 10_000): Promise<TaskRun[]> {
  const { rows } = await sql<{
    task_id: string;
    kind: string;
    idx: number | string;
    attempt: number | string;
    worker_id: string;
    started_at: number | string;
    ended_at: number | string | null;
    outcome: string | null;
    error: string | null;
  }>`select r.task_id, t.kind, t.idx, r.attempt, r.worker_id, r.started_at, r.ended_at, r.outcome, r.error
     from task_runs r join tasks t on t.id = r.task_id
     where r.job_id = ${jobId}
     order by r.started_at, r.task_id
     limit ${limit}`.execute(db);
  // PostgreSQL returns bigint columns as strings.
  return rows.map((r) =>
    create(TaskRunSchema, {
      taskId: r.task_id,
      kind: r.kind,
      index: Number(r.idx),
      attempt: Number(r.attempt),
      workerId: r.worker_id,
      startedAtMs: BigInt(r.started_at),
      endedAtMs: BigInt(r.ended_at ?? 0),
      outcome: r.outcome ?? '',
      error: r.error ?? '',
    }),
  );
}
