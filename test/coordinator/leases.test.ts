// Leases, failures and restarts on a real database (SQLite files; PostgreSQL too
// when installed), with a manual clock: no sleeping for leases.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { JobState as JobStateProto, type Task } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { databaseFactories } from '../db/databases.js';
import { claim, fail, finishRequest, sampleJob, splitResult, succeed } from '../fixtures/messages.js';
import { drain, setupCoordinator } from './setup.js';

for (const factory of databaseFactories()) {
  describe(`leases and failures on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('a lease that expires without heartbeats is reassigned to another worker', async () => {
      const t = await setupCoordinator(factory, { leaseMs: 15_000 });
      try {
        await t.c.submitJob(sampleJob());
        const first = (await claim(t.c, 'w1'))!;
        assert.equal(first.heartbeatIntervalMs, 5000, 'heartbeats due three times per lease');
        t.clock.advance(10_000);
        assert.equal(await claim(t.c, 'w2'), undefined, 'a live lease must not be reassigned');
        assert.deepEqual(await t.c.heartbeat('w1', first.id, first.lease, 0.5), {
          leaseValid: true,
          cancelled: false,
        });
        t.clock.advance(14_000);
        assert.equal(await claim(t.c, 'w2'), undefined, 'the heartbeat extended the lease');
        t.clock.advance(2_000);
        const second = (await claim(t.c, 'w2'))!;
        assert.equal(second.id, first.id);
        assert.equal(second.attempt, 2);
        assert.notEqual(second.lease, first.lease);
        assert.deepEqual(await t.c.heartbeat('w1', first.id, first.lease, 0.9), {
          leaseValid: false,
          cancelled: false,
        });
        const job = await t.c.getJob(first.jobId);
        assert.match(job.tasks[0]?.lastError ?? '', /lease expired: worker w1/);
      } finally {
        await t.close();
      }
    });

    test('a late FinishTask from an expired lease is ignored', async () => {
      const t = await setupCoordinator(factory, { leaseMs: 15_000 });
      try {
        const id = await t.c.submitJob(sampleJob());
        const stale = (await claim(t.c, 'w1'))!;
        t.clock.advance(16_000);
        const fresh = (await claim(t.c, 'w2'))!;
        assert.equal(await succeed(t.c, 'w1', stale, 5), false);
        assert.equal(await fail(t.c, 'w1', stale, 'boom'), false);
        assert.equal((await t.c.getJob(id)).segmentsTotal, 0, 'the stale result must not be recorded');
        assert.equal(await succeed(t.c, 'w2', fresh, 2), true);
        assert.equal((await t.c.getJob(id)).segmentsTotal, 2);
        // A duplicate of an accepted finish is ignored too.
        assert.equal(await succeed(t.c, 'w2', fresh, 2), false);
      } finally {
        await t.close();
      }
    });

    test('an expired lease that is finished before anyone reclaims it is still refused', async () => {
      const t = await setupCoordinator(factory, { leaseMs: 1000 });
      try {
        await t.c.submitJob(sampleJob());
        const task = (await claim(t.c, 'w1'))!;
        t.clock.advance(1001);
        assert.equal(await succeed(t.c, 'w1', task), false);
        assert.equal((await claim(t.c, 'w2'))?.id, task.id);
      } finally {
        await t.close();
      }
    });

    test('cancelling a job tells heartbeats to stop, ignores finishes and hands out no more tasks', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        await succeed(t.c, 'w1', (await claim(t.c, 'w1'))!, 3);
        const running = (await claim(t.c, 'w1'))!;
        const job = await t.c.cancelJob(id);
        assert.equal(job.state, JobStateProto.CANCELLED);
        assert.deepEqual(await t.c.heartbeat('w1', running.id, running.lease, 0.2), {
          leaseValid: false,
          cancelled: true,
        });
        assert.equal(await succeed(t.c, 'w1', running), false);
        assert.equal(await claim(t.c, 'w2'), undefined);
        assert.equal((await t.c.cancelJob(id)).state, JobStateProto.CANCELLED, 'cancel is idempotent');
        await assert.rejects(t.c.cancelJob('no-such-job'), /not found/);
      } finally {
        await t.close();
      }
    });

    test('a coordinator restart on the same database loses nothing', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        const split = (await claim(t.c, 'w1'))!;
        await t.reopen();
        assert.equal((await t.c.heartbeat('w1', split.id, split.lease, 0.5)).leaseValid, true);
        assert.equal(await succeed(t.c, 'w1', split, 2), true);
        const enc = (await claim(t.c, 'w1'))!;
        await t.reopen();
        assert.equal(await succeed(t.c, 'w1', enc, 2), true);
        await t.reopen();
        assert.deepEqual(await drain(t.c, 2), ['encode 1', 'manifest']);
        assert.equal((await t.c.getJob(id)).state, JobStateProto.SUCCEEDED);
      } finally {
        await t.close();
      }
    });

    test('a transient failure is retried after a backoff, up to max attempts, then fails the job', async () => {
      const t = await setupCoordinator(factory, { maxAttempts: 3, backoffBaseMs: 1000 });
      try {
        const id = await t.c.submitJob(sampleJob());
        let task = (await claim(t.c, 'w1'))!;
        assert.equal(await fail(t.c, 'w1', task, 'storage 503', { transient: true }), true);
        assert.equal(await claim(t.c, 'w1'), undefined, 'backoff: not runnable yet');
        t.clock.advance(1300);
        task = (await claim(t.c, 'w1'))!;
        assert.equal(task.attempt, 2);
        assert.equal(await fail(t.c, 'w1', task, 'storage 503 again', { transient: true }), true);
        t.clock.advance(1500);
        assert.equal(await claim(t.c, 'w1'), undefined, 'second backoff is about twice as long');
        t.clock.advance(1200);
        task = (await claim(t.c, 'w1'))!;
        assert.equal(task.attempt, 3);
        let job = await t.c.getJob(id);
        assert.equal(job.tasks[0]?.attempts, 3);
        assert.equal(job.tasks[0]?.lastError, 'storage 503 again');
        assert.equal(await fail(t.c, 'w1', task, 'storage 503 for good', { transient: true }), true);
        job = await t.c.getJob(id);
        assert.equal(job.state, JobStateProto.FAILED);
        assert.equal(job.failureReason, 'split failed (after 3 attempts): storage 503 for good');
      } finally {
        await t.close();
      }
    });

    test('a lease that expires on the last attempt fails the job', async () => {
      const t = await setupCoordinator(factory, { maxAttempts: 2, leaseMs: 1000 });
      try {
        const id = await t.c.submitJob(sampleJob());
        await claim(t.c, 'w1');
        t.clock.advance(1001);
        await claim(t.c, 'w2');
        t.clock.advance(1001);
        assert.equal(await t.c.reapExpired(), 1);
        const job = await t.c.getJob(id);
        assert.equal(job.state, JobStateProto.FAILED);
        assert.match(job.failureReason, /^split failed \(after 2 attempts\): lease expired: worker w2/);
      } finally {
        await t.close();
      }
    });

    test('the failure reason of an encode covering several segments names them all', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob('/data', { parallelism: 2 }));
        const split = (await claim(t.c, 'w1'))!;
        // Four equal in-source pieces of 60 frames on two slots: two tasks of two.
        const result = splitResult(4);
        for (const p of result.pieces) {
          p.inSource = true;
          p.framePts = Array.from({ length: 60 }, (_, i) => p.start + i);
        }
        const splitDone = await t.c.finish(finishRequest('w1', split, { case: 'split', value: result }));
        assert.equal(splitDone.accepted, true);
        const e = (await claim(t.c, 'w1'))!;
        assert.equal(e.kind.case === 'encode' && e.kind.value.pieces.length, 2);
        assert.equal(await fail(t.c, 'w1', e, 'encoder crashed'), true);
        const job = await t.c.getJob(id);
        assert.equal(job.failureReason, 'encode 0-1 failed: encoder crashed');
      } finally {
        await t.close();
      }
    });

    test('a permanent failure fails the job with the reason and cancels its other tasks', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        await succeed(t.c, 'w1', (await claim(t.c, 'w1'))!, 3);
        const e0 = (await claim(t.c, 'w1'))!;
        const e1 = (await claim(t.c, 'w2'))!;
        assert.equal(await fail(t.c, 'w1', e0, 'input is not a video'), true);
        const job = await t.c.getJob(id);
        assert.equal(job.state, JobStateProto.FAILED);
        assert.equal(job.failureReason, 'encode 0 failed: input is not a video');
        assert.equal((await t.c.heartbeat('w2', e1.id, e1.lease, 0)).cancelled, true);
        assert.equal(await claim(t.c, 'w3'), undefined);
      } finally {
        await t.close();
      }
    });

    test('a task given back is requeued at once without counting the attempt', async () => {
      const t = await setupCoordinator(factory, { maxAttempts: 1 });
      try {
        await t.c.submitJob(sampleJob());
        const task = (await claim(t.c, 'w1'))!;
        assert.equal(await fail(t.c, 'w1', task, 'worker shutting down', { released: true }), true);
        const again = (await claim(t.c, 'w2'))!;
        assert.equal(again.id, task.id);
        assert.equal(again.attempt, 1);
      } finally {
        await t.close();
      }
    });

    test('a result of the wrong kind is refused; an unusable split fails the job', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        const split = (await claim(t.c, 'w1'))!;
        const wrong = { ...split, kind: { case: 'manifest' as const, value: {} as never } };
        await assert.rejects(succeed(t.c, 'w1', wrong as Task), /is a split task, not manifest/);
        assert.equal(await succeed(t.c, 'w1', split, 0), true);
        const job = await t.c.getJob(id);
        assert.equal(job.state, JobStateProto.FAILED);
        assert.match(job.failureReason, /split produced no pieces/);
      } finally {
        await t.close();
      }
    });
  });
}
