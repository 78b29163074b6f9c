// A task that ends while its worker's temp folder is read-only (as the chaos
// soak makes it: the worker runs as nobody, the folder goes to mode 0555) cannot
// remove its `task-*` folder. The worker reports the result anyway, warns once,
// and removes the folder once it can (between tasks), leaving nothing behind.
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startCoordinator, submit, waitFor } from './operator.js';
import { cli, gatedFfmpeg, startProgram, stopAll } from './processes.js';

const NOBODY = { uid: 65534, gid: 65534 };
const asRoot = process.getuid?.() === 0;

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-leftovers-');
  await chmod(dir.path, 0o755);
  clip = await makeClip(dir.path, CLIPS.short);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

const taskDirs = async (root: string) => (await readdir(root)).filter((n) => n.startsWith('task-'));

describe('worker temp folders', { skip: !asRoot && 'needs root to run a worker as nobody' }, () => {
  it('a task folder that cannot be removed (read-only temp dir) is removed once it can; the result is kept', async () => {
    const root = path.join(dir.path, 'worker-tmp');
    await mkdir(root);
    await chown(root, NOBODY.uid, NOBODY.gid);
    // Stands in for ffmpeg until `go` exists, so the test can make the folder
    // read-only while the first task runs; then the real ffmpeg does the work.
    const go = path.join(dir.path, 'go');
    const ffmpeg = await gatedFfmpeg(path.join(dir.path, 'ffmpeg-after-go'), go);
    for (const d of ['job-work', 'job-out']) {
      await mkdir(path.join(dir.path, d));
      await chown(path.join(dir.path, d), NOBODY.uid, NOBODY.gid);
    }
    const { address } = await startCoordinator(path.join(dir.path, 'leftovers.sqlite'));
    const worker = startProgram(
      ['worker', '--coordinator', address, '--id', 'ro', '--tmp-dir', root, '--log-level', 'info'],
      { ...NOBODY, env: { ...process.env, AVSPL1T_FFMPEG: ffmpeg } },
    );
    await waitFor('the worker to start', () => /worker started/.test(worker.output().stderr), 20_000);
    const { jobId } = await submit(address, clip, path.join(dir.path, 'job'));
    const first = await waitForTaskDir(root);
    await chmod(root, 0o555);
    await writeFile(go, '');
    await waitFor('the warning', () => /could not remove temp dir/.test(worker.output().stderr), 60_000);
    assert.deepEqual(await taskDirs(root), [first], 'the folder is still there while read-only');

    await chmod(root, 0o755);
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, `the job succeeds: ${waited.stderr}\n${worker.output().stderr}`);
    const deadline = Date.now() + 20_000;
    while ((await taskDirs(root)).length > 0 && Date.now() < deadline) await sleep(200);
    assert.deepEqual(await taskDirs(root), [], `no task folder left behind\n${worker.output().stderr}`);
    const warnings = worker.output().stderr.match(/could not remove temp dir/g) ?? [];
    assert.equal(warnings.length, 1, 'one warning for the one folder');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The name of the first `task-*` folder to appear under `root`. */
async function waitForTaskDir(root: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [name] = await taskDirs(root);
    if (name) return name;
    if (Date.now() > deadline) assert.fail('no task folder appeared');
    await sleep(20);
  }
}
