// A worker told to stop while its coordinator is gone does not retry its report
// for a minute: after SIGTERM it lets the running task finish, tries to report
// for a bounded time, and exits; a second SIGTERM gives the task back and exits
// at once. Real coordinator, worker and ffmpeg processes.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startCoordinator, submit, waitFor } from './operator.js';
import { gatedFfmpeg, type Program, startProgram, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-shutdown-limit-');
  clip = await makeClip(dir.path, CLIPS.short);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/**
 * A worker whose ffmpeg waits for the file `go` before running the real one, on
 * a job whose first task has started; its coordinator is then killed.
 */
async function workerWithCoordinatorGone(name: string): Promise<{ worker: Program; go: string }> {
  const go = path.join(dir.path, `${name}-go`);
  const ffmpeg = await gatedFfmpeg(path.join(dir.path, `${name}-ffmpeg`), go);
  const { coordinator, address } = await startCoordinator(path.join(dir.path, `${name}.sqlite`));
  const worker = startProgram(
    [
      'worker',
      '--coordinator',
      address,
      '--tmp-dir',
      path.join(dir.path, `${name}-tmp`),
      '--log-level',
      'info',
    ],
    { env: { ...process.env, AVSPL1T_FFMPEG: ffmpeg } },
  );
  await submit(address, clip, path.join(dir.path, name));
  await waitFor('the first task started', () => /task started/.test(worker.output().stderr));
  coordinator.child.kill('SIGKILL');
  await coordinator.exited;
  return { worker, go };
}

describe('a worker stopping with its coordinator gone', { timeout: 120_000 }, () => {
  it('SIGTERM: the running task finishes, its report is tried for at most about 10 s, the worker exits', async (t) => {
    const { worker, go } = await workerWithCoordinatorGone('once');
    worker.child.kill('SIGTERM');
    await writeFile(go, '');
    const signalled = Date.now();
    const code = await worker.exited;
    const ms = Date.now() - signalled;
    t.diagnostic(`exited ${ms} ms after the signal`);
    const { stderr } = worker.output();
    assert.equal(code, 0, stderr);
    assert.ok(ms < 20_000, `exited ${ms} ms after SIGTERM\n${stderr}`);
    assert.match(stderr, /could not report the task result/);
    assert.match(stderr, /"msg":"worker stopped"/);
  });

  it('a second SIGTERM gives the task back and exits at once', async (t) => {
    const { worker } = await workerWithCoordinatorGone('twice');
    worker.child.kill('SIGTERM');
    await waitFor('the worker stopping', () => /worker stopping/.test(worker.output().stderr));
    worker.child.kill('SIGTERM');
    const signalled = Date.now();
    const code = await worker.exited;
    const ms = Date.now() - signalled;
    t.diagnostic(`exited ${ms} ms after the signal`);
    const { stderr } = worker.output();
    assert.equal(code, 0, stderr);
    assert.ok(ms < 5_000, `exited ${ms} ms after the second SIGTERM\n${stderr}`);
    assert.match(stderr, /"msg":"worker stopped"/);
  });
});
