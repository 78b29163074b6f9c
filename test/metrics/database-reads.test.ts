// The reads behind the gauges and ListJobRuns, on every database the suites
// run against (SQLite, PostgreSQL): after a claim, /metrics and ListJobRuns
// agree with the rows, and PostgreSQL's bigint counts and times come out as numbers.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startCoordinator } from '../../src/coordinator/index.js';
import { connectCoordinator } from '../../src/rpc/index.js';
import { databaseFactories } from '../db/databases.js';
import { sampleJob } from '../fixtures/messages.js';
import { sampleValue, scrape } from '../helpers/prometheus-text.js';

for (const factory of databaseFactories()) {
  describe(`database reads (${factory.name})`, () => {
    after(() => factory.teardown());

    it('after a claim, the gauges and the job runs match the rows', async () => {
      const database = await factory.create();
      const running = await startCoordinator({ listen: '127.0.0.1:0', db: database.location });
      const handle = connectCoordinator(running.address);
      try {
        const { jobId } = await handle.client.submitJob({ job: sampleJob() });
        const { task } = await handle.client.getTask({ workerId: 'worker-1', waitMs: 1000 });
        assert.equal(task?.kind.case, 'split');

        const metrics = await scrape(`http://${running.address}/metrics`);
        const db = running.store.db;
        const { rows: tasks } = await sql<{ state: string; n: number | string }>`
          select state, count(*) as n from tasks group by state`.execute(db);
        const { rows: jobs } = await sql<{ state: string; n: number | string }>`
          select state, count(*) as n from jobs group by state`.execute(db);
        assert.ok(tasks.length > 0 && jobs.length > 0);
        for (const r of tasks)
          assert.equal(sampleValue(metrics, 'avspl1t_tasks', { state: r.state }), Number(r.n));
        for (const r of jobs)
          assert.equal(sampleValue(metrics, 'avspl1t_jobs', { state: r.state }), Number(r.n));
        assert.equal(sampleValue(metrics, 'avspl1t_workers_connected'), 1);

        const { runs, nowMs } = await handle.client.listJobRuns({ jobId });
        const { rows: stored } = await sql<{
          started_at: number | string;
          worker_id: string;
          attempt: number;
        }>`
          select started_at, worker_id, attempt from task_runs where job_id = ${jobId}`.execute(db);
        assert.equal(runs.length, 1);
        assert.equal(stored.length, 1);
        assert.equal(runs[0]!.taskId, task!.id);
        assert.equal(runs[0]!.kind, 'split');
        assert.equal(runs[0]!.workerId, 'worker-1');
        assert.equal(runs[0]!.attempt, Number(stored[0]!.attempt));
        assert.equal(runs[0]!.startedAtMs, BigInt(stored[0]!.started_at));
        assert.equal(runs[0]!.endedAtMs, 0n, 'still running');
        assert.equal(runs[0]!.outcome, '');
        assert.ok(nowMs >= runs[0]!.startedAtMs);

        await assert.rejects(
          handle.client.listJobRuns({ jobId: '00000000-0000-0000-0000-000000000000' }),
          /not found/,
        );
      } finally {
        handle.close();
        await running.close();
        await database.cleanup();
      }
    });
  });
}
