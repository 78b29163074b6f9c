// ListWorkers on each database: the host and slots workers report on GetTask, the
// tasks they hold, their succeeded runs and when they were last seen (heartbeats count).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Coordinator } from '../../src/coordinator/index.js';
import type { TaskStore } from '../../src/db/index.js';
import { databaseFactories } from '../db/databases.js';
import { sampleJob, succeed } from '../fixtures/messages.js';
import { setupCoordinator } from './setup.js';

const poll = (c: Coordinator, id: string, host: string, slots: number) =>
  c.claim(id, 0, new AbortController().signal, { host, slots });

/** Running tasks per worker, as the database has them. */
async function heldInDb(store: TaskStore, workerId: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom('tasks')
    .select('id')
    .where('lease_owner', '=', workerId)
    .where('state', '=', 'running')
    .execute();
  return rows.map((r) => r.id).sort();
}

async function succeededRuns(store: TaskStore, workerId: string): Promise<number> {
  const rows = await store.db
    .selectFrom('task_runs')
    .select('lease')
    .where('worker_id', '=', workerId)
    .where('outcome', '=', 'succeeded')
    .execute();
  return rows.length;
}

for (const factory of databaseFactories()) {
  describe(`ListWorkers on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('shows each worker with its host, slots, held tasks, succeeded runs and last poll or heartbeat', async () => {
      const t = await setupCoordinator(factory);
      try {
        await t.c.submitJob(sampleJob());
        const split = (await poll(t.c, 'w1', 'host-a', 2))!;
        assert.equal(await succeed(t.c, 'w1', split, 3), true);
        const e1 = (await poll(t.c, 'w1', 'host-a', 2))!;
        const e2 = (await poll(t.c, 'w2', 'host-b', 1))!;
        const e3 = (await poll(t.c, 'w1', 'host-a', 2))!;
        t.clock.advance(5_000);
        const beat = t.clock.now();
        assert.equal((await t.c.heartbeat('w1', e3.id, e3.lease, 0.5)).leaseValid, true);
        t.clock.advance(1_000);

        let { workers, nowMs } = await t.c.listWorkers();
        assert.equal(Number(nowMs), t.clock.now());
        assert.deepEqual(
          workers.map((w) => [w.id, w.host, w.slots]),
          [
            ['w1', 'host-a', 2],
            ['w2', 'host-b', 1],
          ],
        );
        for (const w of workers) {
          assert.deepEqual(w.current.map((c) => c.taskId).sort(), await heldInDb(t.store, w.id));
          assert.equal(Number(w.tasksDone), await succeededRuns(t.store, w.id));
        }
        assert.deepEqual(workers[0]!.current.map((c) => c.kind).sort(), ['encode', 'encode']);
        assert.equal(Number(workers[0]!.tasksDone), 1);
        assert.equal(Number(workers[0]!.lastSeenMs), beat, 'a heartbeat counts as seen');

        for (const [w, task] of [
          ['w1', e1],
          ['w2', e2],
          ['w1', e3],
        ] as const)
          assert.equal(await succeed(t.c, w, task, 3), true);
        // A worker restarted with more slots reports them (and takes the manifest task).
        const manifest = (await poll(t.c, 'w2', 'host-b', 3))!;
        assert.equal(manifest.kind.case, 'manifest');
        ({ workers } = await t.c.listWorkers());
        const byId = new Map(workers.map((w) => [w.id, w]));
        assert.equal(byId.get('w2')!.slots, 3);
        for (const id of ['w1', 'w2']) {
          assert.deepEqual(
            byId.get(id)!.current.map((c) => c.taskId),
            await heldInDb(t.store, id),
          );
          assert.equal(Number(byId.get(id)!.tasksDone), await succeededRuns(t.store, id));
        }
        assert.equal(Number(byId.get('w1')!.tasksDone), 3);
        assert.deepEqual(
          byId.get('w2')!.current.map((c) => [c.taskId, c.kind]),
          [[manifest.id, 'manifest']],
        );
      } finally {
        await t.close();
      }
    });
  });
}
