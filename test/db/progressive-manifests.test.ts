// Progressive manifests through the TaskStore on every database: each store reads
// the job's tasks inside its finish and inserts what manifestTasks() makes of
// them, so a progressive job gets one manifest per grown prefix, never two open
// at once, and its final manifest only after the open progressive one finished.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import type { Policy, TaskOutcome } from '../../src/coordinator/decide.js';
import { type ClaimedRow, JobState, openTaskStore, TaskKind, type TaskStore } from '../../src/db/index.js';
import { TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { audioResult, encodeResult, manifestResult, sampleJob, splitResult } from '../fixtures/messages.js';
import { databaseFactories } from './databases.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };

/** A store with a claimed task per lease, finishing them by name. */
class Driver {
  readonly leases = new Map<string, ClaimedRow>();
  /** Each call a millisecond later: tasks made by a finish are runnable from its time. */
  private clock = NOW;
  constructor(readonly store: TaskStore) {}

  async claim(): Promise<ClaimedRow> {
    const lease = randomUUID();
    const row = await this.store.claim({ now: ++this.clock, workerId: 'w', lease, leaseMs: 60_000 });
    assert.ok(row, 'a task to claim');
    this.leases.set(lease, row);
    return row;
  }

  async finish(row: ClaimedRow, outcome: TaskOutcome): Promise<void> {
    const lease = [...this.leases].find(([, r]) => r.id === row.id)![0];
    const done = await this.store.finish({
      taskId: row.id,
      lease,
      workerId: 'w',
      now: NOW + 1,
      outcome,
      policy,
    });
    assert.equal(done.status, 'accepted');
  }

  /** The job's manifest tasks as "idx:state:progressive:segments", in creation order. */
  async manifests(jobId: string): Promise<string[]> {
    const rows = await this.store.db
      .selectFrom('tasks')
      .select(['idx', 'state', 'payload'])
      .where('job_id', '=', jobId)
      .where('kind', '=', TaskKind.Manifest)
      .orderBy('id')
      .execute();
    return rows.map((r) => {
      const kind = fromBinary(TaskSchema, r.payload).kind;
      assert.equal(kind.case, 'manifest');
      return `${r.idx}:${r.state}:${kind.value.progressive}:${kind.value.segments.map((s) => s.index).join(',')}`;
    });
  }
}

const ok = (value: ReturnType<typeof encodeResult>): TaskOutcome => ({
  kind: 'succeeded',
  result: { case: 'encode', value },
});

for (const factory of databaseFactories()) {
  describe(`progressive manifests on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('a grown prefix gets one progressive manifest; the final one waits for it and comes after all', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        const d = new Driver(store);
        const id = randomUUID();
        const job = sampleJob('/data', { progressive: true });
        const sub = { id, job, location: `/out/${id}`, overwrite: false, earlierFiles: false };
        assert.equal((await store.submit(sub, NOW, policy)).submitted, true);
        const split = await d.claim();
        await d.finish(split, {
          kind: 'succeeded',
          result: { case: 'split', value: splitResult(3, true) },
        });
        const claimed = [await d.claim(), await d.claim(), await d.claim(), await d.claim()];
        const audio = claimed.find((t) => t.kind === TaskKind.Audio)!;
        const encode = (i: number) => claimed.find((t) => t.kind === TaskKind.Encode && t.idx === i)!;

        await d.finish(encode(1), ok(encodeResult(1)));
        await d.finish(audio, { kind: 'succeeded', result: { case: 'audio', value: audioResult() } });
        assert.deepEqual(await d.manifests(id), [], 'segment 0 is missing: nothing to publish');
        await d.finish(encode(0), ok(encodeResult(0)));
        assert.deepEqual(await d.manifests(id), ['2:queued:true:0,1']);

        const first = await d.claim();
        assert.equal(first.kind, TaskKind.Manifest);
        await d.finish(encode(2), ok(encodeResult(2)));
        assert.deepEqual(await d.manifests(id), ['2:running:true:0,1'], 'no final while one is running');

        await d.finish(first, { kind: 'succeeded', result: { case: 'manifest', value: manifestResult() } });
        assert.equal((await store.getJob(id))!.job.state, JobState.Running);
        assert.deepEqual(await d.manifests(id), ['2:succeeded:true:0,1', '0:queued:false:0,1,2']);

        const final = await d.claim();
        await d.finish(final, { kind: 'succeeded', result: { case: 'manifest', value: manifestResult() } });
        assert.equal((await store.getJob(id))!.job.state, JobState.Succeeded);
        assert.deepEqual(await d.manifests(id), ['2:succeeded:true:0,1', '0:succeeded:false:0,1,2']);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });
  });
}
