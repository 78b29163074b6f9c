// The SQLite store's statements, by table, prepared once on its connection, and
// the two compound writes every path shares: a claim with its bookkeeping, and
// applying decide()'s effects. Run these inside the store's transactions only.
import type SqliteDatabase from 'better-sqlite3';
import { type Effects, manifestTasks, type Policy } from '../../coordinator/decide.js';
import type { ClaimedRow, JobRow } from '../schema.js';
import { TaskKind, TaskState } from '../states.js';
import type { ClaimRequest } from '../task-store.js';
import { JobStatements } from './sql/jobs.js';
import { OutputStatements } from './sql/outputs.js';
import { RunStatements, WorkerStatements } from './sql/runs.js';
import { TaskStatements } from './sql/tasks.js';

export class Statements {
  readonly tasks: TaskStatements;
  readonly jobs: JobStatements;
  readonly runs: RunStatements;
  readonly workers: WorkerStatements;
  readonly outputs: OutputStatements;

  constructor(conn: SqliteDatabase.Database) {
    this.tasks = new TaskStatements(conn);
    this.jobs = new JobStatements(conn);
    this.runs = new RunStatements(conn);
    this.workers = new WorkerStatements(conn);
    this.outputs = new OutputStatements(conn);
  }

  /** A claim and its bookkeeping: the run, the worker's claim count, a split's job running. */
  claim(req: ClaimRequest): ClaimedRow | undefined {
    const row = this.tasks.claim(req);
    if (!row) return undefined;
    this.runs.start(row.lease!, row.id, row.job_id, row.attempts, req.workerId, req.now);
    this.workers.touch(req.workerId, req.now, 1);
    if (row.kind === TaskKind.Split) this.jobs.started(row.job_id, req.now);
    return row;
  }

  /** Applies `e` (decided for the task holding `lease` of `job`): every change of the transition. */
  apply(job: JobRow, taskId: string, lease: string, e: Effects, now: number, policy: Policy): void {
    const t = e.task;
    switch (t.state) {
      case TaskState.Succeeded:
        this.tasks.succeeded(taskId, lease, now, t.result);
        break;
      case TaskState.Queued:
        this.tasks.queued(taskId, lease, now, t.runAfter, t.attempts, t.lastError);
        break;
      case TaskState.Failed:
        this.tasks.failed(taskId, lease, now, t.lastError);
        break;
      case TaskState.Cancelled:
        this.tasks.cancelled(taskId, lease, now);
        break;
    }
    this.runs.end(lease, now, e.run.outcome, e.run.error);
    if (e.job) this.jobs.apply(job.id, e.job, now);
    if (e.cancelOpenTasks !== undefined) this.cancelOpen(job.id, now, e.cancelOpenTasks);
    this.tasks.insert(e.create);
    if (e.createManifest) {
      const counted = { ...job, source: e.job?.source ?? job.source };
      this.tasks.insert(manifestTasks(counted, this.tasks.results(job.id), now, policy));
    }
  }

  /** Cancels a job's open tasks and ends their runs. */
  cancelOpen(jobId: string, now: number, error: string): void {
    this.tasks.cancelOpen(jobId, now);
    this.runs.cancelOpen(jobId, now, error);
  }
}
