// `submit` run as one user, workers as another: the working and output folders
// are created by the workers (as their user), not by submit; a folder path
// under a file is refused at submit.
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startCoordinator } from './operator.js';
import { cli, startWorker, stopAll } from './processes.js';

const NOBODY = { uid: 65534, gid: 65534 };
const asRoot = process.getuid?.() === 0;

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-folders-');
  await chmod(dir.path, 0o755);
  clip = await makeClip(dir.path, CLIPS.short);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

describe('folders of a submitted job', { skip: !asRoot && 'needs root to run workers as nobody' }, () => {
  it("root submits, nobody's worker encodes: the missing folders are made by the worker and the job succeeds", async () => {
    const jobs = path.join(dir.path, 'jobs');
    await mkdir(jobs);
    await chown(jobs, NOBODY.uid, NOBODY.gid);
    const { address } = await startCoordinator(path.join(dir.path, 'folders.sqlite'));
    await mkdir(path.join(jobs, 'tmp'));
    await chown(path.join(jobs, 'tmp'), NOBODY.uid, NOBODY.gid);
    startWorker(address, path.join(jobs, 'tmp'), { id: 'nobody-w', ...NOBODY });
    const work = path.join(jobs, 'a', 'work');
    const out = path.join(jobs, 'a', 'out');
    const submitted = await cli([
      'submit',
      '--coordinator',
      address,
      '--input',
      clip,
      '--working-dir',
      work,
      '--output-dir',
      out,
      '--preset',
      '12',
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const waited = await cli(['wait', submitted.stdout.trim(), '--coordinator', address], 60_000);
    assert.equal(waited.code, 0, waited.stderr);
    // The working folder is cleaned up with the job; its parent and the output stay.
    for (const d of [path.dirname(work), out])
      assert.equal((await stat(d)).uid, NOBODY.uid, `${d} belongs to the worker's user`);
  });

  it('a folder path below a file is refused at submit', async () => {
    const file = path.join(dir.path, 'a-file');
    await writeFile(file, 'x');
    const r = await cli([
      'submit',
      '--coordinator',
      '127.0.0.1:1',
      '--input',
      clip,
      '--working-dir',
      path.join(file, 'work'),
      '--output-dir',
      path.join(dir.path, 'out'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim(), /^error: the working folder .* is not a directory: .*a-file is a file$/);
  });
});
