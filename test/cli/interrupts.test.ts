// Signals an operator sends: Ctrl-C in a worker's terminal (SIGINT to its whole
// process group) lets the running task finish; a worker killed with SIGKILL
// takes its ffmpeg with it. Real coordinator, worker and ffmpeg processes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { childrenOf, exists, query, startCoordinator, submit, waitFor } from './operator.js';
import { cli, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-signals-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/** Waits until worker `id` (pid `pid`) runs an encode with ffmpeg; returns the task id and ffmpeg's pid. */
async function encoding(db: string, id: string, pid: number) {
  return waitFor('an encode running in ffmpeg', () => {
    const task = query<{ id: string }>(
      db,
      "SELECT id FROM tasks WHERE kind = 'encode' AND state = 'running' AND lease_owner = ?",
      id,
    )[0];
    const ffmpeg = childrenOf(pid).find((c) => c.comm === 'ffmpeg');
    return task && ffmpeg && { taskId: task.id, ffmpeg: ffmpeg.pid };
  });
}

// One encode of the whole clip at a slow preset: ffmpeg runs for seconds.
const slow = ['--seconds-per-segment', '5', '--preset', '4'];

describe('signals from the operator', { concurrency: 1 }, () => {
  it("Ctrl-C in a worker's terminal lets its running encode finish, and the job succeeds", async () => {
    const { address, db } = await startCoordinator(path.join(dir.path, 'ctrl-c.sqlite'));
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    const worker = startWorker(address, path.join(dir.path, 'tmp-ctrl-c'), { id: 'w1', detached: true });
    const { jobId } = await submit(address, clip, path.join(dir.path, 'ctrl-c'), slow);
    const { taskId } = await encoding(db, 'w1', worker.child.pid!);
    process.kill(-worker.child.pid!, 'SIGINT');
    assert.equal(await worker.exited, 0, worker.output().stderr);
    const runs = query<{ outcome: string }>(db, 'SELECT outcome FROM task_runs WHERE task_id = ?', taskId);
    assert.deepEqual(
      runs.map((r) => r.outcome),
      ['succeeded'],
      `the interrupted worker's encode: ${worker.output().stderr}`,
    );
    // Another worker does the rest.
    startWorker(address, path.join(dir.path, 'tmp-ctrl-c'), { id: 'w2' });
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, waited.stderr);
  });

  it('a worker killed with SIGKILL leaves no ffmpeg running', async () => {
    const { address, db } = await startCoordinator(path.join(dir.path, 'orphan.sqlite'));
    const worker = startWorker(address, path.join(dir.path, 'tmp-orphan'), { id: 'victim' });
    await submit(address, clip, path.join(dir.path, 'orphan'), slow);
    const { ffmpeg } = await encoding(db, 'victim', worker.child.pid!);
    worker.child.kill('SIGKILL');
    await worker.exited;
    try {
      await waitFor('the orphaned ffmpeg to end', () => !exists(ffmpeg), 3000);
    } finally {
      if (exists(ffmpeg)) process.kill(ffmpeg, 'SIGKILL');
    }
  });
});
