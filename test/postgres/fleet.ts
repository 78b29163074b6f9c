/**
 * A scale-out deployment in miniature for tests: coordinator OS processes on one
 * PostgreSQL database, fake workers spread over them, jobs submitted over gRPC,
 * and the audit queries that check the run from the database afterwards.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { connectCoordinator } from '../../src/rpc/client.js';
import { type Program, startProgram } from '../cli/processes.js';
import { sampleJob } from '../fixtures/messages.js';
import { FakeWorker, type FakeWorkerStats } from './fake-worker.js';

export interface Fleet {
  coordinators: { program: Program; address: string }[];
  workers: FakeWorker[];
  stats: FakeWorkerStats;
  jobIds: string[];
  /** Submits `count` jobs, alternating between coordinators. */
  submit(count: number): Promise<void>;
  /** Resolves once every submitted job has succeeded; throws on a failed job or after `timeoutMs`. */
  waitForJobs(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  /** The last lines each coordinator wrote to stderr (for failure messages). */
  logTails(lines?: number): string;
}

/** Starts `coordinators` coordinator processes on `url` and `workers` fake workers split between them. */
export async function startFleet(opts: {
  url: string;
  coordinators: number;
  workers: number;
  pieces: number;
  coordinatorArgs?: string[];
}): Promise<Fleet> {
  const coordinators = await Promise.all(
    Array.from({ length: opts.coordinators }, async () => {
      const program = startProgram([
        'coordinator',
        '--listen',
        '127.0.0.1:0',
        '--db',
        opts.url,
        '--log-level',
        'info',
        ...(opts.coordinatorArgs ?? []),
      ]);
      return { program, address: await program.firstLine() };
    }),
  );
  const stats: FakeWorkerStats = { claims: [], errors: [] };
  const workers = Array.from({ length: opts.workers }, (_, i) => {
    const c = i % coordinators.length;
    return new FakeWorker(coordinators[c]!.address, `fake-c${c}-w${i}`, opts.pieces, stats);
  });
  const clients = coordinators.map((c) => connectCoordinator(c.address));
  const jobIds: string[] = [];
  return {
    coordinators,
    workers,
    stats,
    jobIds,
    async submit(count) {
      for (let i = 0; i < count; i++) {
        const n = jobIds.length;
        const client = clients[n % clients.length]!.client;
        const res = await client.submitJob({ job: sampleJob(`/data/job-${n}`) });
        jobIds.push(res.jobId);
      }
    },
    async waitForJobs(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          jobIds.map(async (id, n) => {
            try {
              return (await clients[n % clients.length]!.client.getJob({ jobId: id })).job?.state;
            } catch {
              return undefined; // database outage: ask again
            }
          }),
        );
        const failed = states.findIndex((s) => s === JobState.FAILED || s === JobState.CANCELLED);
        assert.equal(failed, -1, `job ${jobIds[failed]} ended in state ${states[failed]}`);
        if (states.every((s) => s === JobState.SUCCEEDED)) return;
        if (Date.now() > deadline)
          throw new Error(`jobs not done after ${timeoutMs} ms: ${JSON.stringify(states)}`);
        await sleep(250);
      }
    },
    logTails(lines = 15) {
      return coordinators
        .map((c, i) => {
          const out = c.program.output().stderr.trimEnd().split('\n').slice(-lines).join('\n');
          return `coordinator ${i} (exit ${c.program.child.exitCode ?? c.program.child.signalCode ?? 'running'}):\n${out}`;
        })
        .join('\n');
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      for (const c of clients) c.close();
      for (const c of coordinators) c.program.child.kill('SIGTERM');
      await Promise.all(coordinators.map((c) => c.program.exited));
    },
  };
}

/** Reads the database directly (what an operator would query). */
export async function sql<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Pairs of runs of one task whose leases overlapped in time (two holders at once): must be none. */
export const OVERLAPPING_LEASES = `
  SELECT a.task_id, a.lease AS a_lease, b.lease AS b_lease, a.worker_id AS a_worker, b.worker_id AS b_worker
  FROM task_runs a JOIN task_runs b ON a.task_id = b.task_id AND a.lease < b.lease
  WHERE a.started_at < COALESCE(b.ended_at, 9223372036854775807)
    AND b.started_at < COALESCE(a.ended_at, 9223372036854775807)`;

/** Counts and extremes of the run, for the checks and the report. */
export async function runSummary(url: string) {
  const [row] = await sql<{
    tasks: number;
    tasks_succeeded: number;
    runs: number;
    runs_succeeded: number;
    leases: number;
    tasks_run_twice: number;
    tasks_succeeded_twice: number;
    first_start: number;
    last_end: number;
  }>(
    url,
    `SELECT
       (SELECT count(*)::int FROM tasks) AS tasks,
       (SELECT count(*)::int FROM tasks WHERE state = 'succeeded') AS tasks_succeeded,
       (SELECT count(*)::int FROM task_runs) AS runs,
       (SELECT count(*)::int FROM task_runs WHERE outcome = 'succeeded') AS runs_succeeded,
       (SELECT count(DISTINCT lease)::int FROM task_runs) AS leases,
       (SELECT count(*)::int FROM (SELECT task_id FROM task_runs GROUP BY task_id HAVING count(*) > 1) x)
         AS tasks_run_twice,
       (SELECT count(*)::int FROM (SELECT task_id FROM task_runs WHERE outcome = 'succeeded'
          GROUP BY task_id HAVING count(*) > 1) x) AS tasks_succeeded_twice,
       (SELECT min(started_at) FROM task_runs) AS first_start,
       (SELECT max(ended_at) FROM task_runs) AS last_end`,
  );
  return row!;
}
