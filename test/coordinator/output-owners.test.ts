// Output ownership on each database: a location has one owner; a second job
// into it is refused unless it replaces the owner, and a replacing job writes
// its media in a folder of its own with the master playlist at the location.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Coordinator } from '../../src/coordinator/index.js';
import { ErrorKind } from '../../src/errors.js';
import { JobState, type Task } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { describe as describeLocation, folderAt } from '../../src/storage/index.js';
import { databaseFactories } from '../db/databases.js';
import { claim, sampleJob, succeed } from '../fixtures/messages.js';
import { setupCoordinator } from './setup.js';

const refusal = (pattern: RegExp) => (err: unknown) => {
  assert.equal((err as { kind?: string }).kind, ErrorKind.InvalidInput, String(err));
  assert.match((err as Error).message, pattern);
  return true;
};

/** Runs every task of the only open job; returns the claimed tasks. */
async function runAll(c: Coordinator): Promise<Task[]> {
  const tasks: Task[] = [];
  for (let t = await claim(c, 'w1'); t; t = await claim(c, 'w1')) {
    tasks.push(t);
    assert.equal(await succeed(c, 'w1', t, 2), true);
  }
  return tasks;
}

for (const factory of databaseFactories()) {
  describe(`output owners on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('a second job into an owned output is refused; --overwrite replaces the owner and writes under its id', async () => {
      const t = await setupCoordinator(factory);
      try {
        const output = folderAt('/data/owned/out');
        const first = await t.c.submitJob(sampleJob('/data', { output }));
        await runAll(t.c);
        assert.equal((await t.c.getJob(first)).state, JobState.SUCCEEDED);
        // Spelled differently, the same place.
        await assert.rejects(
          t.c.submit(sampleJob('/data', { output: folderAt('/data/owned/x/../out/') })),
          refusal(new RegExp(`output of job ${first} \\(succeeded\\).*--overwrite`)),
        );
        const second = await t.c.submit(sampleJob('/data', { output }), { overwrite: true });
        assert.equal(second.replacedJobId, first);
        const tasks = await runAll(t.c);
        for (const task of tasks) {
          const k = task.kind;
          if (k.case === 'encode')
            assert.equal(describeLocation(k.value.output), `/data/owned/out/${second.jobId}`);
          if (k.case === 'manifest') {
            assert.equal(describeLocation(k.value.output), '/data/owned/out');
            assert.equal(k.value.mediaFolder, second.jobId);
          }
        }
        assert.ok(tasks.some((x) => x.kind.case === 'manifest'));
        await assert.rejects(t.c.submit(sampleJob('/data', { output })), refusal(new RegExp(second.jobId)));
      } finally {
        await t.close();
      }
    });

    test('a replaced job still running is cancelled; of jobs racing for a free output exactly one wins', async () => {
      const t = await setupCoordinator(factory);
      try {
        const output = folderAt('/data/race/out');
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, () => t.c.submit(sampleJob('/data', { output }))),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
        const owner = (won[0] as PromiseFulfilledResult<{ jobId: string }>).value.jobId;
        const replacing = await t.c.submit(sampleJob('/data', { output }), { overwrite: true });
        assert.equal(replacing.replacedJobId, owner);
        assert.equal((await t.c.getJob(owner)).state, JobState.CANCELLED);
        assert.equal((await t.c.getJob(replacing.jobId)).state, JobState.QUEUED);
      } finally {
        await t.close();
      }
    });
  });
}
