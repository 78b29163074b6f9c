// Leftover upload temporaries on the filesystem backend: removed by name, the
// finished files kept, and a folder that was never made is nothing to clean.
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FsBackend, folderAt } from '../../src/storage/fs.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-temporaries-');
});
after(() => dir.cleanup());

for (const roots of [undefined, ['ROOT']]) {
  test(`removeTemporaries deletes only <name>.tmp-* files (${roots ? 'with' : 'without'} allowed roots)`, async () => {
    const fs = new FsBackend({ allowedRoots: roots?.map(() => dir.path) });
    const folder = path.join(dir.path, roots ? 'confined' : 'open');
    const local = path.join(dir.path, 'local.bin');
    await writeFile(local, 'segment');
    await fs.upload(local, folderAt(folder), 'seg-00000.m4s');
    await writeFile(path.join(folder, 'seg-00001.m4s.tmp-123-abc'), '');
    await writeFile(path.join(folder, 'init.mp4.tmp-9-z'), 'half');
    assert.deepEqual((await fs.removeTemporaries(folderAt(folder))).sort(), [
      'init.mp4.tmp-9-z',
      'seg-00001.m4s.tmp-123-abc',
    ]);
    assert.deepEqual(await readdir(folder), ['seg-00000.m4s']);
    assert.deepEqual(await fs.removeTemporaries(folderAt(path.join(dir.path, 'never-made'))), []);
  });
}
