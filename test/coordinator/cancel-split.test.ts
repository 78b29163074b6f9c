// A job cancelled while its split runs: the split's result, arriving after the
// cancel, creates no encode tasks, the job stays cancelled, and nothing is left
// to claim. Checked through the RPC API and in the database's tasks table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { finishRequest, resultFor, sampleJob } from '../fixtures/messages.js';
import { startTestCoordinator } from './harness.js';

test('a split finishing after its job was cancelled creates no encode tasks', async () => {
  const t = await startTestCoordinator();
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    const { task: split } = await t.client.getTask({ workerId: 'w', waitMs: 0 });
    assert.equal(split?.kind.case, 'split');
    await t.client.cancelJob({ jobId });
    // The worker learns of the cancel from its next heartbeat...
    const beat = await t.client.heartbeat({ workerId: 'w', taskId: split!.id, lease: split!.lease });
    assert.equal(beat.cancelled, true);
    // ...but its split finished first and reports 4 pieces.
    await t.client.finishTask(finishRequest('w', split!, resultFor(split!, 4))).catch(() => undefined);

    const { job } = await t.client.getJob({ jobId });
    assert.equal(job?.state, JobState.CANCELLED);
    assert.equal(job?.segmentsTotal, 0);
    assert.equal((await t.client.getTask({ workerId: 'w2', waitMs: 0 })).task, undefined, 'nothing to claim');
    const db = new Database(t.dbPath, { readonly: true });
    try {
      const kinds = db.prepare('SELECT kind, state FROM tasks WHERE job_id = ? ORDER BY ord').all(jobId);
      assert.deepEqual(kinds, [{ kind: 'split', state: 'cancelled' }]);
    } finally {
      db.close();
    }
  } finally {
    await t.close();
  }
});
