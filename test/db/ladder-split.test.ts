// The split of a ladder job through the TaskStore on every database: decide()'s
// job change (the resolved rungs in the details, segments per rung) is applied by
// each store inside its finish, and a rung the source cannot give fails the job.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Policy } from '../../src/coordinator/decide.js';
import { JobState, openTaskStore, TaskKind, TaskState, type TaskStore } from '../../src/db/index.js';
import { type EncodeJob, EncodeJobSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { sampleJob } from '../fixtures/messages.js';
import { databaseFactories } from './databases.js';
import { splitJob as splitJobAt } from './split-job.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };

const rung = (encoder: string, height: number, kbps: number) => ({
  settings: { encoder, crf: 30, preset: encoder === 'x264' ? 0 : 12 },
  height,
  maxBitrateKbps: kbps,
});

const splitJob = (store: TaskStore, job: EncodeJob, pieces: number) =>
  splitJobAt(store, job, pieces, NOW, policy);

for (const factory of databaseFactories()) {
  describe(`ladder split on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('the stored details hold the resolved rungs, and segments_total counts every rung', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        const asked = sampleJob('/data', {
          renditions: [rung('svt', 180, 300), rung('x264', 90, 100)] as EncodeJob['renditions'],
        });
        const id = await splitJob(store, asked, 3);
        const got = (await store.getJob(id))!;
        assert.equal(got.job.state, JobState.Running);
        assert.equal(got.job.segments_total, 6);
        const details = fromBinary(EncodeJobSchema, got.job.details);
        assert.deepEqual(
          details.renditions.map((r) => [r.name, r.width, r.height, r.maxBitrateKbps]),
          [
            ['av1-180p', 320, 180, 300],
            ['h264-90p', 160, 90, 100],
          ],
        );
        assert.deepEqual(details.input, asked.input, 'the rest is kept');
        const encodes = await store.db
          .selectFrom('tasks')
          .select('idx')
          .where('job_id', '=', id)
          .where('kind', '=', TaskKind.Encode)
          .orderBy('idx')
          .execute();
        // No parallelism (the fleet unknown): a task per rung and piece, its index rung × pieces + piece.
        assert.deepEqual(
          encodes.map((t) => t.idx),
          [0, 1, 2, 3, 4, 5],
        );
        assert.equal(details.rungsTogether, false);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    test('a job without a ladder keeps its details byte for byte', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        const asked = sampleJob('/data');
        const id = await splitJob(store, asked, 2);
        const row = await store.db
          .selectFrom('jobs')
          .select(['details', 'segments_total'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        assert.equal(row.segments_total, 2);
        assert.deepEqual([...row.details], [...toBinary(EncodeJobSchema, asked)]);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    test('a rung larger than the source fails the job naming it; the split is kept as succeeded', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        const asked = sampleJob('/data', {
          renditions: [rung('svt', 180, 300), rung('x264', 720, 2000)] as EncodeJob['renditions'],
        });
        const id = await splitJob(store, asked, 3);
        const got = (await store.getJob(id))!;
        assert.equal(got.job.state, JobState.Failed);
        assert.match(
          got.job.failure_reason ?? '',
          /rendition 1 \(h264-720p\).*larger than the source \(320x180\)/,
        );
        const tasks = await store.db
          .selectFrom('tasks')
          .select(['kind', 'state'])
          .where('job_id', '=', id)
          .execute();
        assert.deepEqual(tasks, [{ kind: TaskKind.Split, state: TaskState.Succeeded }]);
        assert.deepEqual(
          fromBinary(EncodeJobSchema, got.job.details).renditions.length,
          2,
          'the request is kept',
        );
      } finally {
        await store.close();
        await db.cleanup();
      }
    });
  });
}
