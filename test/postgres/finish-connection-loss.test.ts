// A finish whose PostgreSQL connection dies: the coordinator's backend killed
// (pg_terminate_backend) in the middle of the finish transaction, and a COMMIT
// that reaches the server while its reply is lost (a proxy forwards it, then cuts
// the connection). Either way the task's outcome is recorded exactly once (one
// succeeded run, its follow-up tasks made once) and the job completes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { startCoordinator } from '../../src/coordinator/index.js';
import { JobState, type Task } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/index.js';
import { waitForJob } from '../coordinator/harness.js';
import { finishRequest, resultFor, sampleJob } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';
import { commitCuttingProxy } from './commit-cutting-proxy.js';

const PIECES = 3;

async function sql<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Claims (as worker `w`) and finishes every task left, as a worker would. */
async function runRest(client: ClientHandle['client']): Promise<void> {
  for (;;) {
    const { task } = await client.getTask({ workerId: 'w', waitMs: 0 });
    if (!task) return;
    const res = await client.finishTask(finishRequest('w', task, resultFor(task, PIECES)));
    assert.equal(res.accepted, true);
  }
}

/** What the database holds about a job after the test: runs of its split, its tasks by kind. */
async function recorded(url: string, jobId: string) {
  const runs = await sql<{ outcome: string }>(
    url,
    "SELECT r.outcome FROM task_runs r JOIN tasks t ON t.id = r.task_id WHERE r.job_id = $1 AND t.kind = 'split'",
    [jobId],
  );
  const kinds = await sql<{ kind: string; n: number }>(
    url,
    'SELECT kind, count(*)::int AS n FROM tasks WHERE job_id = $1 GROUP BY kind ORDER BY kind',
    [jobId],
  );
  return {
    splitRuns: runs.map((r) => r.outcome),
    tasks: Object.fromEntries(kinds.map((k) => [k.kind, k.n])),
  };
}

const server = usePostgres();

describe('a finish losing its PostgreSQL connection', { concurrency: 1, timeout: 120_000 }, () => {
  it('the backend terminated mid-transaction: the finish is run again, recorded once, and the job completes', async () => {
    const url = await server().createDatabase('terminated');
    const running = await startCoordinator({ listen: '127.0.0.1:0', db: url, pollIntervalMs: 50 });
    const h = connectCoordinator(running.address);
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      const { jobId } = await h.client.submitJob({ job: sampleJob() });
      const split = (await h.client.getTask({ workerId: 'w', waitMs: 0 })).task as Task;
      // Hold the split's task row: the finish transaction locks the job, then waits on it.
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM tasks WHERE id = $1 FOR UPDATE', [split.id]);
      const finish = h.client.finishTask(finishRequest('w', split, resultFor(split, PIECES)));
      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i++) {
        const waiting = await sql<{ pid: number }>(
          url,
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1
             AND wait_event_type = 'Lock' AND xact_start IS NOT NULL`,
          [(await blocker.query('SELECT pg_backend_pid() AS p')).rows[0].p],
        );
        pid = waiting[0]?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(pid, 'the finish transaction is waiting on the task row');
      const holds = await sql<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = $1 AND c.relname = 'jobs' AND l.mode = 'RowShareLock'",
        [pid],
      );
      assert.equal(holds[0]!.n, 1, 'it holds the job row lock: inside the finish transaction');
      await sql(url, 'SELECT pg_terminate_backend($1)', [pid]);
      await blocker.query('ROLLBACK');

      const res = await finish;
      assert.equal(res.accepted, true, 'the finish ran again on a new connection and held');
      assert.deepEqual(await recorded(url, jobId), {
        splitRuns: ['succeeded'],
        tasks: { encode: PIECES, split: 1 },
      });
      await runRest(h.client);
      const job = await waitForJob(h.client, jobId);
      assert.equal(job.state, JobState.SUCCEEDED, job.failureReason);
      assert.equal(job.segmentsDone, PIECES);
      assert.deepEqual(await recorded(url, jobId), {
        splitRuns: ['succeeded'],
        tasks: { encode: PIECES, manifest: 1, split: 1 },
      });
    } finally {
      await blocker.end().catch(() => {});
      h.close();
      await running.close();
    }
  });

  it('a COMMIT whose reply is lost: the finish is answered accepted, recorded once, and the job completes', async () => {
    const url = await server().createDatabase('lost_commit');
    const proxy = await commitCuttingProxy(server().port);
    const running = await startCoordinator({
      listen: '127.0.0.1:0',
      db: url.replace(`:${server().port}/`, `:${proxy.port}/`),
      pollIntervalMs: 50,
    });
    const h = connectCoordinator(running.address);
    try {
      const { jobId } = await h.client.submitJob({ job: sampleJob() });
      const split = (await h.client.getTask({ workerId: 'w', waitMs: 0 })).task as Task;
      proxy.arm(split.lease);
      const res = await h.client.finishTask(finishRequest('w', split, resultFor(split, PIECES)));
      assert.equal(proxy.cuts(), 1, 'the finish transaction was committed with its reply cut off');
      assert.equal(
        res.accepted,
        true,
        'the run again finds its own finish: the worker is told it was accepted',
      );
      assert.deepEqual(await recorded(url, jobId), {
        splitRuns: ['succeeded'],
        tasks: { encode: PIECES, split: 1 },
      });
      await runRest(h.client);
      const job = await waitForJob(h.client, jobId);
      assert.equal(job.state, JobState.SUCCEEDED, job.failureReason);
      assert.equal(job.segmentsDone, PIECES);
      assert.deepEqual(await recorded(url, jobId), {
        splitRuns: ['succeeded'],
        tasks: { encode: PIECES, manifest: 1, split: 1 },
      });
    } finally {
      h.close();
      await running.close();
      await proxy.close();
    }
  });
});
