// A coordinator restart costs no finished work and blames no worker: the
// coordinator is SIGKILLed mid-encode, stays down longer than a lease (the
// worker finishes its encode meanwhile), and restarts on the same database.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { childrenOf, query, startCoordinator, submit, waitFor } from './operator.js';
import { cli, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-restart-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

describe('coordinator restarts', () => {
  it('a coordinator down longer than the lease: the encode finished meanwhile is accepted, not re-run, and nobody is blamed', async () => {
    const db = path.join(dir.path, 'restart.sqlite');
    const lease = ['--lease-seconds', '2'];
    const first = await startCoordinator(db, lease);
    const worker = startWorker(first.address, path.join(dir.path, 'tmp'), { id: 'w1' });
    const { jobId } = await submit(first.address, clip, path.join(dir.path, 'restart'), [
      '--seconds-per-segment',
      '5',
      '--preset',
      '6',
    ]);
    const encode = await waitFor('an encode running in ffmpeg', () => {
      const task = query<{ id: string }>(
        db,
        "SELECT id FROM tasks WHERE kind = 'encode' AND state = 'running'",
      )[0];
      return task && childrenOf(worker.child.pid!).some((c) => c.comm === 'ffmpeg') && task.id;
    });
    first.coordinator.child.kill('SIGKILL');
    await first.coordinator.exited;
    // The worker finishes its encode with the coordinator away, then longer than a lease passes.
    await waitFor('the encode to end', () => !childrenOf(worker.child.pid!).some((c) => c.comm === 'ffmpeg'));
    await new Promise((r) => setTimeout(r, 4000));

    const again = await startCoordinator(db, [...lease, '--listen', first.address]);
    const waited = await cli(['wait', jobId, '--coordinator', again.address]);
    assert.equal(waited.code, 0, `${waited.stderr}\n${worker.output().stderr}`);
    const runs = query<{ outcome: string; worker_id: string }>(
      db,
      'SELECT outcome, worker_id FROM task_runs WHERE task_id = ?',
      encode,
    );
    assert.deepEqual(
      runs.map((r) => `${r.worker_id}:${r.outcome}`),
      ['w1:succeeded'],
      'the encode ran once and its result was accepted',
    );
    const notSucceeded = query<{ n: number }>(
      db,
      "SELECT count(*) AS n FROM task_runs WHERE outcome <> 'succeeded'",
    );
    assert.equal(notSucceeded[0]!.n, 0, 'no run expired or failed');
    const status = await cli(['status', jobId, '--coordinator', again.address]);
    assert.doesNotMatch(status.stdout, /heartbeat|lease/, status.stdout);
  });
});
