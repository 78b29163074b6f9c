// The coordinator's Heartbeat histogram: the server-side time of every Heartbeat
// call, by whether the lease was still held, counted once per call the test made
// (the paced dispatch tail is told apart from the workers' side with it).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CoordinatorMetrics } from '../../src/metrics/coordinator-metrics.js';
import { setupCoordinator } from '../coordinator/setup.js';
import { databaseFactories } from '../db/databases.js';
import { claim, sampleJob } from '../fixtures/messages.js';
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js';

for (const factory of databaseFactories()) {
  describe(`heartbeat duration in the metrics (${factory.name})`, () => {
    after(() => factory.teardown());

    test('every Heartbeat is timed once, apart by whether its lease was held', async () => {
      const metrics = new CoordinatorMetrics({
        stateCounts: () => t.store.countStates(),
        workersConnected: async () => 0,
      });
      const t = await setupCoordinator(factory, { observer: metrics });
      try {
        await t.c.submitJob(sampleJob());
        const split = (await claim(t.c, 'w1'))!;
        const beats = [
          await t.c.heartbeat('w1', split.id, split.lease, 0.1),
          await t.c.heartbeat('w1', split.id, split.lease, 0.2),
          await t.c.heartbeat('w1', split.id, 'not-the-lease', 0.3),
        ];
        assert.deepEqual(
          beats.map((b) => b.leaseValid),
          [true, true, false],
        );
        const e = parsePrometheusText(
          (await metrics.registry.metrics())
            .split('\n')
            .filter((l) => l.includes('avspl1t_'))
            .join('\n'),
        );
        assert.equal(e.types.get('avspl1t_heartbeat_duration_seconds'), 'histogram');
        assert.equal(sampleValue(e, 'avspl1t_heartbeat_duration_seconds_count', { lease_valid: 'true' }), 2);
        assert.equal(sampleValue(e, 'avspl1t_heartbeat_duration_seconds_count', { lease_valid: 'false' }), 1);
        assert.ok(sampleValue(e, 'avspl1t_heartbeat_duration_seconds_sum', { lease_valid: 'true' }) > 0);
      } finally {
        await t.close();
      }
    });
  });
}
