// What may land between a counted finish's unlocked read and its transaction: the
// same finish's other try (a worker's retry racing its first try) or the lease's
// expiry. Another coordinator on a thread of its own (side-thread.ts) does it
// while the finish is stopped where decide reads its result, so the order is the
// same every run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { openPostgresStore } from '../../src/db/postgres/index.js';
import type { Finished, TaskStore } from '../../src/db/task-store.js';
import { usePostgres } from '../helpers/postgres.js';
import {
  BACKOFF_MS,
  claimedJob,
  claimReq,
  jobInDatabase,
  NOW,
  policy,
  runningLeases,
  stallingFinish,
  success,
  withDatabase,
} from './finish-fixtures.js';
import { SideThread } from './side-thread.js';

const server = usePostgres();

/** A store, and another coordinator's on a side thread, on a fresh database of the server. */
async function withTwoCoordinators(
  fn: (store: TaskStore, side: SideThread, admin: pg.Client) => Promise<void>,
): Promise<void> {
  await withDatabase(server(), async (url, admin) => {
    const store = await openPostgresStore(url);
    const side = await SideThread.start(url);
    try {
      await fn(store, side, admin);
    } finally {
      await side.close();
      await store.close();
    }
  });
}

const accepted = (d: Finished) => {
  assert.equal(d.status, 'accepted');
  return d as Extract<Finished, { status: 'accepted' }>;
};

describe('a counted PostgreSQL finish and what lands between its read and its count', {
  timeout: 60_000,
}, () => {
  // A worker's retry racing its own first try, asking for its next task (want_next) or
  // not (a worker shutting down, a slot that stops).
  for (const withNext of [true, false]) {
    const name = withNext
      ? "a finish's retry that read before its first try committed and counts after: both accepted, the retry's claim handed to it, counted once"
      : "a finish's retry without a next claim that read before its first try committed and counts after: accepted, counted once";
    test(name, async () => {
      await withTwoCoordinators(async (store, side, admin) => {
        // Two of six encodes claimed: the others wait for the finishes' next claims.
        const shape = { pieces: 6 };
        const { jobId, tasks } = await claimedJob(store, shape, 2);
        const [task, bystander] = tasks as [(typeof tasks)[0], (typeof tasks)[0]];
        const next = () => (withNext ? { next: claimReq(task.lease_owner!) } : {});
        const first = success(task, shape, next());
        let firstDone: Finished | undefined;
        // The retry (same lease, a claim of its own if any) has read the task as running;
        // the first try, on another coordinator, commits before it counts.
        const retry = stallingFinish(success(task, shape, next()), () => {
          firstDone = side.finish(first, { maxAttempts: policy.maxAttempts, backoffMs: BACKOFF_MS });
        });
        const retrying = store.finish(retry.finish);
        retry.sent();
        const retried = accepted(await retrying);
        assert.ok(retry.stalled());
        const firstAccepted = accepted(firstDone!);
        if (withNext) {
          assert.ok(firstAccepted.next, 'the first try claimed a next task');
          assert.ok(retried.next, 'the task claimed for the retry is handed to it');
          assert.equal(retried.next.lease, retry.finish.next!.lease);
          // Every running task's lease was told to a worker.
          const told = [bystander.lease, firstAccepted.next.lease, retried.next.lease];
          assert.deepEqual((await runningLeases(admin)).sort(), told.sort());
        } else {
          assert.equal(firstAccepted.next, undefined);
          assert.equal(retried.next, undefined);
          // No task is leased to a worker that was not told.
          assert.deepEqual(await runningLeases(admin), [bystander.lease]);
        }
        const job = await jobInDatabase(admin, jobId);
        assert.equal(job.segments_done, 1, 'counted once');
        assert.equal(job.count('encode', 'succeeded'), 1);
        assert.equal(job.succeededRuns('encode'), 1);
      });
    });
  }

  test('a success whose lease expired after its unlocked read is not counted: lease lost', async () => {
    await withTwoCoordinators(async (store, side, admin) => {
      const shape = { pieces: 4 };
      const { jobId, tasks } = await claimedJob(store, shape);
      const task = tasks[0]!;
      // Read with its lease valid at the finish's time; by its count the lease has
      // expired (a coordinator's clock ahead, a worker paused past its lease).
      const late = stallingFinish(success(task, shape, { next: claimReq(task.lease_owner!) }), () => {
        side.sql('update tasks set lease_expires_at = $1 where id = $2', [NOW - 1, task.id]);
      });
      const finishing = store.finish(late.finish);
      late.sent();
      const done = await finishing;
      assert.ok(late.stalled());
      assert.equal(done.status, 'lease-lost');
      const job = await jobInDatabase(admin, jobId);
      assert.equal(job.segments_done, 0, 'not counted');
      assert.equal(job.count('encode', 'succeeded'), 0);
      assert.equal(job.succeededRuns('encode'), 0);
      // Still running under the expired lease, for the expiry to requeue.
      assert.ok((await runningLeases(admin)).includes(task.lease!));
      assert.equal(job.openRuns, tasks.length, 'nothing claimed for the lost finish');
    });
  });
});
