// The job flow on a real database (SQLite files; PostgreSQL too
// when installed), driven through the Coordinator API: task order, claims
// under concurrency, progress, long polls and watches. No RPC, no media.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Coordinator } from '../../src/coordinator/index.js';
import {
  JobState as JobStateProto,
  type ManifestTask,
  type Task,
} from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { databaseFactories } from '../db/databases.js';
import { claim, encodeResult, finishRequest, resultFor, sampleJob, succeed } from '../fixtures/messages.js';
import { drain, setupCoordinator } from './setup.js';

for (const factory of databaseFactories()) {
  describe(`job flow on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('a job runs split, then every encode and the audio, then the manifest, and succeeds', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        assert.equal((await t.c.getJob(id)).state, JobStateProto.QUEUED);
        const kinds = await drain(t.c, 3, true);
        assert.deepEqual(kinds, ['split', 'audio', 'encode 0', 'encode 1', 'encode 2', 'manifest']);
        const job = await t.c.getJob(id);
        assert.equal(job.state, JobStateProto.SUCCEEDED);
        assert.equal(job.percentComplete, 100);
        assert.equal(job.segmentsTotal, 3);
        assert.equal(job.segmentsDone, 3);
        assert.equal(
          job.manifest?.location.case === 'fs' && job.manifest.location.value.path,
          '/data/out/master.m3u8',
        );
        assert.ok(job.finishedAtMs > 0n);
      } finally {
        await t.close();
      }
    });

    test('task ids and leases sort in the order tasks are claimed (neighbouring index entries)', async () => {
      const t = await setupCoordinator(factory);
      try {
        await t.c.submitJob(sampleJob());
        const ids: string[] = [];
        const leases: string[] = [];
        for (let task = await claim(t.c, 'w1'); task; task = await claim(t.c, 'w1')) {
          ids.push(task.id);
          leases.push(task.lease);
          assert.equal(await succeed(t.c, 'w1', task, 3, true), true);
        }
        // split, audio (made after the encodes but claimed first), 3 encodes, manifest.
        assert.equal(ids.length, 6);
        assert.deepEqual([...ids].sort(), ids);
        assert.deepEqual([...leases].sort(), leases);
      } finally {
        await t.close();
      }
    });

    test('with a parallelism of 2 the last two encode tasks handed out are marked as the tail', async () => {
      const t = await setupCoordinator(factory);
      try {
        await t.c.submitJob(sampleJob('/data', { parallelism: 2 }));
        const split = (await claim(t.c, 'w1'))!;
        await succeed(t.c, 'w1', split, 4);
        const tails: string[] = [];
        for (let task = await claim(t.c, 'w1'); task?.kind.case === 'encode'; task = await claim(t.c, 'w1')) {
          tails.push(`${task.kind.value.pieces[0]!.index}:${task.kind.value.tail}`);
          await succeed(t.c, 'w1', task, 4);
        }
        // Pieces of unknown size cost their frame count: equal, so index order.
        assert.deepEqual(tails, ['0:false', '1:false', '2:true', '3:true']);
      } finally {
        await t.close();
      }
    });

    test('a finish asking for the next task gets one leased to the same worker, until none is runnable', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        const finish = (task: Task, wantNext: boolean, lease = task.lease, workerId = 'w1') =>
          t.c.finish(finishRequest(workerId, task, resultFor(task, 2, false), { wantNext, lease }));
        const split = (await claim(t.c, 'w1'))!;
        // A finish that is refused (wrong lease) claims nothing.
        assert.deepEqual(await finish(split, true, 'not-the-lease'), { accepted: false });
        const first = await finish(split, true);
        assert.equal(first.accepted, true);
        const e0 = first.next!;
        assert.equal(e0.kind.case, 'encode');
        // Leased to w1: the heartbeat of that lease is valid.
        assert.equal((await t.c.heartbeat('w1', e0.id, e0.lease, 0.5)).leaseValid, true);
        // Without want_next nothing is claimed: the other encode is still there for w2.
        assert.deepEqual(await finish(e0, false), { accepted: true });
        const e1 = (await claim(t.c, 'w2'))!;
        assert.equal(e1.kind.case, 'encode');
        assert.notEqual(e1.id, e0.id);
        // The last encode's finish creates the manifest, and hands it over.
        const last = await finish(e1, true, e1.lease, 'w2');
        assert.equal(last.next?.kind.case, 'manifest');
        const done = await finish(last.next!, true, last.next!.lease, 'w2');
        assert.deepEqual(done, { accepted: true, next: undefined });
        assert.equal((await t.c.getJob(id)).state, JobStateProto.SUCCEEDED);
      } finally {
        await t.close();
      }
    });

    test('a finish asking for the next task gets the work it made, even right after a poll found nothing', async () => {
      const t = await setupCoordinator(factory, { pollIntervalMs: 1000 });
      try {
        await t.c.submitJob(sampleJob());
        const split = (await claim(t.c, 'w1'))!;
        // w2 looks and finds nothing: the coordinator believes "nothing runnable" for a moment.
        assert.equal(await claim(t.c, 'w2'), undefined);
        const done = await t.c.finish(
          finishRequest('w1', split, resultFor(split, 2, false), { wantNext: true }),
        );
        assert.equal(done.accepted, true);
        assert.equal(done.next?.kind.case, 'encode', 'the split made encodes: one is handed over');
      } finally {
        await t.close();
      }
    });

    test("an encode's finish asking for the next task leases it, records the run and counts the claim (one statement on PostgreSQL)", async () => {
      const t = await setupCoordinator(factory);
      try {
        await t.c.submitJob(sampleJob());
        await succeed(t.c, 'w1', (await claim(t.c, 'w1'))!, 3);
        const e0 = (await claim(t.c, 'w1'))!;
        const finish = (lease: string) =>
          t.c.finish(finishRequest('w1', e0, resultFor(e0, 3, false), { wantNext: true, lease }));
        // Refused (not its lease): nothing is finished or claimed.
        assert.deepEqual(await finish('not-the-lease'), { accepted: false });
        const { accepted, next } = await finish(e0.lease);
        assert.equal(accepted, true);
        assert.equal(next?.kind.case, 'encode');
        assert.notEqual(next!.id, e0.id);
        assert.equal(next!.attempt, 1);
        assert.equal((await t.c.heartbeat('w1', next!.id, next!.lease, 0.5)).leaseValid, true);
        const run = await t.store.db
          .selectFrom('task_runs')
          .selectAll()
          .where('lease', '=', next!.lease)
          .executeTakeFirstOrThrow();
        assert.deepEqual([run.task_id, run.worker_id, run.attempt], [next!.id, 'w1', 1]);
        const worker = await t.store.db
          .selectFrom('workers')
          .selectAll()
          .where('id', '=', 'w1')
          .executeTakeFirstOrThrow();
        assert.equal(Number(worker.claims), 3, 'split, encode, and the encode claimed by the finish');
        // One encode is left for anyone else.
        const e2 = (await claim(t.c, 'w2'))!;
        assert.equal(e2.kind.case, 'encode');
        assert.ok(![e0.id, next!.id].includes(e2.id));
        assert.equal(await claim(t.c, 'w2'), undefined);
      } finally {
        await t.close();
      }
    });

    test('an encode reporting segments that are not its pieces fails the job with both lists', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        const split = (await claim(t.c, 'w1'))!;
        await succeed(t.c, 'w1', split, 2);
        const e = (await claim(t.c, 'w1'))!;
        assert.equal(e.kind.case, 'encode');
        const { accepted } = await t.c.finish(
          finishRequest('w1', e, { case: 'encode', value: encodeResult(7) }),
        );
        assert.equal(accepted, true);
        const job = await t.c.getJob(id);
        assert.equal(job.state, JobStateProto.FAILED);
        assert.equal(job.failureReason, 'encode 0 returned segments [7] for pieces [0]');
        // The other encode is cancelled with the job: nothing is left to claim.
        assert.equal(await claim(t.c, 'w2'), undefined);
      } finally {
        await t.close();
      }
    });

    test('the manifest task gets every segment in index order, the audio and the source', async () => {
      const t = await setupCoordinator(factory);
      try {
        await t.c.submitJob(sampleJob());
        const split = (await claim(t.c, 'w1'))!;
        await succeed(t.c, 'w1', split, 4, true);
        const tasks: Task[] = [];
        for (let task = await claim(t.c, 'w1'); task; task = await claim(t.c, 'w1')) tasks.push(task);
        // Finish in reverse order: the manifest must still list segments by index.
        for (const task of tasks.reverse()) await succeed(t.c, 'w1', task, 4, true);
        const manifest = (await claim(t.c, 'w1'))!;
        assert.equal(manifest.kind.case, 'manifest');
        const m = manifest.kind.value as ManifestTask;
        assert.deepEqual(
          m.segments.map((s) => s.index),
          [0, 1, 2, 3],
        );
        assert.equal(m.audio?.codecs, 'mp4a.40.2');
        assert.equal(m.source?.width, 320);
      } finally {
        await t.close();
      }
    });

    test('many concurrent GetTask calls never hand one task to two workers', async () => {
      const t = await setupCoordinator(factory);
      try {
        await t.c.submitJob(sampleJob());
        await succeed(t.c, 'w0', (await claim(t.c, 'w0'))!, 40);
        const results = await Promise.all(Array.from({ length: 60 }, (_, i) => claim(t.c, `w${i}`)));
        const got = results.filter((r): r is Task => r !== undefined);
        assert.equal(got.length, 40);
        assert.equal(new Set(got.map((r) => r.id)).size, 40, 'a task was handed out twice');
        const runs = await t.store.db
          .selectFrom('task_runs')
          .selectAll()
          .where('outcome', 'is', null)
          .execute();
        assert.equal(runs.length, 40);
        assert.equal(new Set(runs.map((r) => r.task_id)).size, 40);
        // Claimed together (one statement on PostgreSQL), each task is leased to the worker it was handed to.
        const runByLease = new Map(runs.map((r) => [r.lease, r]));
        for (const [i, task] of results.entries()) {
          if (!task) continue;
          assert.deepEqual(
            [runByLease.get(task.lease)?.task_id, runByLease.get(task.lease)?.worker_id],
            [task.id, `w${i}`],
          );
          assert.equal((await t.c.heartbeat(`w${i}`, task.id, task.lease, 0.1)).leaseValid, true);
        }
        const claims = await t.store.db.selectFrom('workers').select(['id', 'claims']).execute();
        assert.equal(
          claims.reduce((n, w) => n + Number(w.claims), 0),
          41,
          'the split and 40 encodes counted on their workers',
        );
      } finally {
        await t.close();
      }
    });

    test('oldest job first, then task index', async () => {
      const t = await setupCoordinator(factory);
      try {
        const first = await t.c.submitJob(sampleJob('/a'));
        t.clock.advance(1);
        const second = await t.c.submitJob(sampleJob('/b'));
        const s1 = (await claim(t.c, 'w'))!;
        const s2 = (await claim(t.c, 'w'))!;
        assert.deepEqual([s1.jobId, s2.jobId], [first, second]);
        await succeed(t.c, 'w', s2, 2);
        await succeed(t.c, 'w', s1, 2);
        const order = [];
        for (let task = await claim(t.c, 'w'); task; task = await claim(t.c, 'w'))
          order.push(
            `${task.jobId === first ? 'a' : 'b'}${task.kind.case === 'encode' ? task.kind.value.pieces[0]?.index : ''}`,
          );
        assert.deepEqual(order, ['a0', 'a1', 'b0', 'b1']);
      } finally {
        await t.close();
      }
    });

    test('percent_complete rises with finished work and encodes dominate', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        const percents = [(await t.c.getJob(id)).percentComplete];
        const split = (await claim(t.c, 'w1'))!;
        await succeed(t.c, 'w1', split, 4);
        percents.push((await t.c.getJob(id)).percentComplete);
        const e = (await claim(t.c, 'w1'))!;
        await t.c.heartbeat('w1', e.id, e.lease, 0.5);
        percents.push((await t.c.getJob(id)).percentComplete);
        await succeed(t.c, 'w1', e, 4);
        percents.push((await t.c.getJob(id)).percentComplete);
        assert.deepEqual(percents, [0, 5.3, 16.4, 27.6]);
      } finally {
        await t.close();
      }
    });

    test('a waiting GetTask wakes as soon as work is submitted', async () => {
      const t = await setupCoordinator(factory, { pollIntervalMs: 5000 });
      try {
        const started = Date.now();
        const waiting = t.c.claim('w1', 4000, new AbortController().signal);
        setTimeout(() => void t.c.submitJob(sampleJob()), 50);
        const task = await waiting;
        assert.equal(task?.kind.case, 'split');
        assert.ok(Date.now() - started < 1000, `woke after ${Date.now() - started} ms`);
      } finally {
        await t.close();
      }
    });

    test('a poll on one coordinator finds work submitted through another on the same database', async () => {
      const t = await setupCoordinator(factory, { pollIntervalMs: 50 });
      const other = new Coordinator(t.store, { clock: t.clock, pollIntervalMs: 50 });
      try {
        const started = Date.now();
        const waiting = other.claim('w1', 4000, new AbortController().signal);
        setTimeout(() => void t.c.submitJob(sampleJob()), 50);
        assert.equal((await waiting)?.kind.case, 'split');
        assert.ok(Date.now() - started < 1000, `found after ${Date.now() - started} ms`);
      } finally {
        other.close();
        await t.close();
      }
    });

    test('a GetTask whose caller went away gives the claimed task back', async () => {
      const t = await setupCoordinator(factory);
      try {
        await t.c.submitJob(sampleJob());
        const gone = new AbortController();
        gone.abort();
        assert.equal(await t.c.claim('w1', 0, gone.signal), undefined);
        const task = (await claim(t.c, 'w2'))!;
        assert.equal(task.attempt, 1);
      } finally {
        await t.close();
      }
    });

    test('WatchJob streams changes until the job finishes', async () => {
      const t = await setupCoordinator(factory);
      try {
        const id = await t.c.submitJob(sampleJob());
        const seen: number[] = [];
        const watching = (async () => {
          for await (const job of t.c.watchJob(id, new AbortController().signal)) seen.push(job.state);
        })();
        await drain(t.c, 2);
        await watching;
        assert.equal(seen[0], JobStateProto.QUEUED);
        assert.equal(seen.at(-1), JobStateProto.SUCCEEDED);
      } finally {
        await t.close();
      }
    });
  });
}
