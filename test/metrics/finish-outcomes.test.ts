// The coordinator's task counters after each way a finish can end (retried,
// given back, succeeded with the next task handed out with it), on every
// database the suites run against: each counter equals the task_runs rows of
// that outcome, read from the database.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { CoordinatorMetrics } from '../../src/metrics/coordinator-metrics.js';
import { setupCoordinator } from '../coordinator/setup.js';
import { databaseFactories } from '../db/databases.js';
import { claim, fail, finishRequest, resultFor, sampleJob } from '../fixtures/messages.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';

for (const factory of databaseFactories()) {
  describe(`finish outcomes in the metrics (${factory.name})`, () => {
    after(() => factory.teardown());

    test('a retry, a give-back and a success with want_next are each counted once, as task_runs records them', async () => {
      // Read only when scraped, once `t` exists.
      const metrics = new CoordinatorMetrics({
        stateCounts: () => t.store.countStates(),
        workersConnected: async () => 0,
      });
      const t = await setupCoordinator(factory, { maxAttempts: 3, backoffBaseMs: 1000, observer: metrics });
      try {
        await t.c.submitJob(sampleJob());
        let split = (await claim(t.c, 'w1'))!;
        assert.equal(await fail(t.c, 'w1', split, 'storage 503', { transient: true }), true);
        t.clock.advance(1300);
        split = (await claim(t.c, 'w1'))!;
        assert.equal(await fail(t.c, 'w1', split, 'stopping', { released: true }), true);
        split = (await claim(t.c, 'w1'))!;
        const done = await t.c.finish(finishRequest('w1', split, resultFor(split), { wantNext: true }));
        assert.equal(done.accepted, true);
        assert.equal(done.next?.kind.case, 'encode');

        const { rows } = await sql<{ outcome: string | null; n: number | string }>`
          select outcome, count(*) as n from task_runs group by outcome`.execute(t.store.db);
        const runs = new Map(rows.map((r) => [r.outcome, Number(r.n)]));
        assert.deepEqual([runs.get('retried'), runs.get('released'), runs.get('succeeded')], [1, 1, 1]);
        // Our series only (the process's default metrics may read NaN this early).
        const text = await metrics.registry.metrics();
        const e = parsePrometheusText(
          text
            .split('\n')
            .filter((l) => l.includes('avspl1t_'))
            .join('\n'),
        );
        const kind = { kind: 'split' };
        assert.equal(sampleValue(e, 'avspl1t_tasks_retried_total', kind), runs.get('retried'));
        assert.equal(sampleValue(e, 'avspl1t_tasks_given_back_total', kind), runs.get('released'));
        assert.equal(sampleValue(e, 'avspl1t_tasks_finished_total', kind), runs.get('succeeded'));
        assert.equal(sampleValue(e, 'avspl1t_tasks_failed_total', kind), 0);
        // Every run started is a hand-out: three splits and the encode handed out with the finish.
        const { rows: started } = await sql<{ kind: string; n: number | string }>`
          select t.kind, count(*) as n from task_runs r join tasks t on t.id = r.task_id group by t.kind`.execute(
          t.store.db,
        );
        for (const r of started)
          assert.equal(sampleValue(e, 'avspl1t_tasks_handed_out_total', { kind: r.kind }), Number(r.n));
        assert.equal(sampleValue(e, 'avspl1t_tasks_handed_out_total', { kind: 'encode' }), 1);
      } finally {
        await t.close();
      }
    });
  });
}
