// A ladder job's encode tasks as the coordinator stores them, read back from the
// database: each task's idx names the rungs and first piece its payload holds,
// and the job view's per-rung progress counts what the succeeded payloads encode.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import type { Policy } from '../../src/coordinator/decide.js';
import { jobView } from '../../src/coordinator/job-view.js';
import { encodeTaskPlace } from '../../src/coordinator/task-index.js';
import { openTaskStore, TaskKind, TaskState, type TaskStore } from '../../src/db/index.js';
import { type EncodeJob, EncodeJobSchema, TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { sampleJob } from '../fixtures/messages.js';
import { databaseFactories } from './databases.js';
import { splitJob } from './split-job.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };
const PIECES = 7;

const rung = (encoder: string, height: number) => ({
  settings: { encoder, crf: 30, preset: encoder === 'x264' ? 0 : 12 },
  height,
  maxBitrateKbps: 200,
});
const renditions = [rung('svt', 180), rung('svt', 90), rung('x264', 90)] as EncodeJob['renditions'];

/** Submits a ladder job with `parallelism` and finishes its split into PIECES pieces; returns the job id. */
const splitLadder = (store: TaskStore, parallelism: number) =>
  splitJob(store, sampleJob('/data', { renditions, parallelism }), PIECES, NOW, policy);

for (const factory of databaseFactories()) {
  describe(`a ladder job's task indexes on ${factory.name}`, () => {
    after(() => factory.teardown());

    for (const parallelism of [2, 0])
      test(`parallelism ${parallelism}: every stored task's idx names its payload's rungs and first piece, and per-rung progress counts the succeeded payloads`, async () => {
        const db = await factory.create();
        const store = await openTaskStore(db.location);
        try {
          const id = await splitLadder(store, parallelism);
          const rows = await store.db
            .selectFrom('tasks')
            .select(['id', 'idx', 'payload'])
            .where('job_id', '=', id)
            .where('kind', '=', TaskKind.Encode)
            .orderBy('idx')
            .execute();
          const details = fromBinary(EncodeJobSchema, (await store.getJob(id))!.job.details);
          assert.equal(details.rungsTogether, parallelism > 0, 'the layout this case means to cover');
          // What each rung should show done: the pieces of the succeeded payloads (every other task).
          const expected = renditions.map(() => 0);
          for (const [k, row] of rows.entries()) {
            const task = fromBinary(TaskSchema, row.payload);
            assert.equal(task.kind.case, 'encode');
            const encode = task.kind.value;
            const rungsCovered = encode.rungs.length
              ? encode.rungs.map((r) => r.renditionIndex)
              : [encode.renditionIndex];
            assert.deepEqual(
              encodeTaskPlace(row.idx, renditions.length, PIECES, details.rungsTogether),
              { rung: encode.rungs.length ? -1 : encode.renditionIndex, piece: encode.pieces[0]!.index },
              `task idx ${row.idx}`,
            );
            if (k % 2 === 0) {
              for (const r of rungsCovered) expected[r]! += encode.pieces.length;
              await store.db
                .updateTable('tasks')
                .set({ state: TaskState.Succeeded })
                .where('id', '=', row.id)
                .execute();
            }
          }
          const got = (await store.getJob(id))!;
          const view = jobView(got.job, got.tasks);
          assert.deepEqual(
            view.renditions.map((r) => [r.segmentsDone, r.segmentsTotal]),
            expected.map((n) => [n, PIECES]),
          );
          assert.ok(
            expected.some((n) => n > 0),
            'some segments are done',
          );
        } finally {
          await store.close();
          await db.cleanup();
        }
      });
  });
}
