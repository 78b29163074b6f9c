// A coordinator that starts gives running tasks a fresh lease: workers could not
// heartbeat while no coordinator ran. Real databases, a manual clock.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { databaseFactories } from '../db/databases.js';
import { claim, sampleJob, succeed } from '../fixtures/messages.js';
import { setupCoordinator } from './setup.js';

for (const factory of databaseFactories()) {
  describe(`resuming leases on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('leases that expired while no coordinator ran are resumed, not reassigned', async () => {
      const t = await setupCoordinator(factory, { leaseMs: 10_000 });
      try {
        await t.c.submitJob(sampleJob());
        const task = (await claim(t.c, 'w1'))!;
        await t.reopen();
        t.clock.advance(60_000);
        assert.equal(await t.c.resumeLeases(), 1);
        t.clock.advance(9_000);
        assert.equal(await claim(t.c, 'w2'), undefined, 'the resumed lease is not handed to another worker');
        assert.equal((await t.c.heartbeat('w1', task.id, task.lease, 0.5)).leaseValid, true);
        assert.equal(await succeed(t.c, 'w1', task, 2), true);
      } finally {
        await t.close();
      }
    });

    test('a resumed lease still expires a full lease later when its worker stays silent', async () => {
      const t = await setupCoordinator(factory, { leaseMs: 10_000 });
      try {
        await t.c.submitJob(sampleJob());
        const task = (await claim(t.c, 'w1'))!;
        t.clock.advance(60_000);
        await t.c.resumeLeases();
        t.clock.advance(10_001);
        assert.equal((await claim(t.c, 'w2'))?.id, task.id);
        const job = await t.c.getJob(task.jobId);
        assert.match(job.tasks[0]?.lastError ?? '', /^lease expired: worker w1 sent no heartbeat for 10 s/);
      } finally {
        await t.close();
      }
    });
  });
}
