// Filesystem confinement: with allowed roots, SubmitJob refuses paths outside
// them (also through `..` and symlinks), and a worker's storage refuses to read
// outside its roots even if a job got past the coordinator.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { type RunningCoordinator, startCoordinator } from '../../src/coordinator/index.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/index.js';
import { FsBackend } from '../../src/storage/fs.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
let root: string;
let running: RunningCoordinator;
let handle: ClientHandle;
before(async () => {
  dir = await tmpDir('avspl1t-confine-');
  root = path.join(dir.path, 'root');
  await mkdir(root);
  await writeFile(path.join(root, 'in.mp4'), 'x');
  await symlink('/etc/passwd', path.join(root, 'link.mp4'));
  await symlink('/etc', path.join(root, 'etc-dir'));
  running = await startCoordinator({
    listen: '127.0.0.1:0',
    db: path.join(dir.path, 'db.sqlite'),
    allowedRoots: [root],
  });
  handle = connectCoordinator(running.address);
});
after(async () => {
  handle?.close();
  await running?.close();
  await dir?.cleanup();
});

function job(input: string, output = path.join(root, 'out')) {
  return {
    input: fileAt(input),
    working: folderAt(path.join(root, 'work')),
    output: folderAt(output),
    secondsPerSegment: 2,
    settings: { encoder: 'svt', crf: 35, preset: 12 },
  };
}

async function refusedWith(input: string, code: Code, message: RegExp, output?: string) {
  await assert.rejects(handle.client.submitJob({ job: job(input, output) }), (err: unknown) => {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.rawMessage, message);
    return true;
  });
}

test('a job whose input is /etc/passwd is refused with PERMISSION_DENIED naming the field', async () => {
  await refusedWith('/etc/passwd', Code.PermissionDenied, /^job\.input\.fs\.path: outside the allowed roots/);
});

test('a symlink inside the root pointing outside is refused', async () => {
  await refusedWith(path.join(root, 'link.mp4'), Code.PermissionDenied, /^job\.input\.fs\.path/);
  await refusedWith(path.join(root, 'etc-dir', 'passwd'), Code.PermissionDenied, /^job\.input\.fs\.path/);
});

test('paths with ".." are refused, even when they would stay inside the root', async () => {
  await refusedWith(
    `${root}/../../etc/passwd`,
    Code.InvalidArgument,
    /^job\.input\.fs\.path: "\.\." is not allowed/,
  );
  await refusedWith(`${root}/sub/../in.mp4`, Code.InvalidArgument, /"\.\." is not allowed/);
});

test('an output folder outside the roots is refused, one inside is accepted', async () => {
  await refusedWith(
    path.join(root, 'in.mp4'),
    Code.PermissionDenied,
    /^job\.output\.fs\.path/,
    '/tmp/elsewhere',
  );
  const { jobId } = await handle.client.submitJob({ job: job(path.join(root, 'in.mp4')) });
  assert.ok(jobId);
  await handle.client.cancelJob({ jobId });
});

test("a worker's confined storage refuses to read /etc/passwd or follow a symlink out", async () => {
  const storage = new Storage({ fs: { allowedRoots: [root] } });
  await assert.rejects(storage.stat(fileAt('/etc/passwd')), /outside the allowed storage roots/);
  await assert.rejects(
    storage.stat(fileAt(path.join(root, 'link.mp4'))),
    /outside the allowed storage roots/,
  );
  await assert.rejects(
    storage.download(fileAt(path.join(root, 'link.mp4')), path.join(dir.path, 'stolen')),
    /outside the allowed storage roots/,
  );
  assert.equal((await storage.stat(fileAt(path.join(root, 'in.mp4')))).size, 1);
});

test('a confined worker reads the file it checked: swapping in a symlink afterwards changes nothing', async () => {
  const storage = new Storage({ fs: { allowedRoots: [root] } });
  const target = path.join(root, 'swap.mp4');
  await writeFile(target, 'checked bytes');
  const local = await storage.openLocal(fileAt(target));
  assert.ok(local);
  try {
    // Child processes get a path to the open descriptor, not the name.
    assert.match(local.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    await rename(target, path.join(root, 'moved.mp4'));
    await symlink('/etc/passwd', target);
    assert.equal(await readFile(local.path, 'utf8'), 'checked bytes');
  } finally {
    await local.close();
  }
  // Opened again now, the name leads outside the roots: refused.
  await assert.rejects(storage.openLocal(fileAt(target)), /outside the allowed storage roots/);
  await assert.rejects(storage.openLocal(fileAt('/etc/passwd')), /outside the allowed storage roots/);
});

test('a confined worker writes into the folder it checked: swapping in a symlink afterwards changes nothing', async () => {
  const fs = new FsBackend({ allowedRoots: [root] });
  const folder = path.join(root, 'segments');
  const outsideDir = path.join(dir.path, 'outside');
  await mkdir(folder);
  await mkdir(outsideDir);
  const pinned = await fs.openFolder(folder);
  try {
    assert.match(pinned.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    // The folder is moved away and a symlink out of the roots takes its name.
    await rename(folder, path.join(root, 'segments-moved'));
    await symlink(outsideDir, folder);
    await writeFile(path.join(pinned.path, 'seg.m4s'), 'segment bytes');
    assert.equal(await readFile(path.join(root, 'segments-moved', 'seg.m4s'), 'utf8'), 'segment bytes');
    assert.deepEqual(await readdir(outsideDir), []);
  } finally {
    await pinned.close();
  }
  // Through the name now: uploads and removals are refused, nothing lands outside.
  const local = path.join(dir.path, 'local.bin');
  await writeFile(local, 'x');
  await assert.rejects(fs.upload(local, folderAt(folder), 'seg2.m4s'), /outside the allowed storage roots/);
  await writeFile(path.join(outsideDir, 'keep'), 'k');
  await assert.rejects(fs.remove(fileAt(path.join(folder, 'keep'))), /outside the allowed storage roots/);
  assert.deepEqual((await readdir(outsideDir)).sort(), ['keep']);
  // Inside the roots both work, through the opened folder.
  const ok = await fs.upload(local, folderAt(path.join(root, 'segments-moved')), 'seg3.m4s');
  assert.equal(await readFile(fsPathOf(ok), 'utf8'), 'x');
  await fs.remove(ok);
  assert.deepEqual((await readdir(path.join(root, 'segments-moved'))).sort(), ['seg.m4s']);
});

function fsPathOf(f: ReturnType<typeof fileAt>): string {
  assert.equal(f.location.case, 'fs');
  return f.location.value.path;
}

test('a confined upload makes missing folders level by level inside the roots, and none through a symlink out', async () => {
  const fs = new FsBackend({ allowedRoots: [root] });
  const local = path.join(dir.path, 'nested.bin');
  await writeFile(local, 'n');
  const made = await fs.upload(local, folderAt(path.join(root, 'a', 'b', 'c')), 'x.m4s');
  assert.equal(await readFile(fsPathOf(made), 'utf8'), 'n');
  await fs.ensureWritable(folderAt(path.join(root, 'd', 'e')));
  assert.deepEqual(await readdir(path.join(root, 'd')), ['e']);
  const outsideDir = path.join(dir.path, 'outside-mk');
  await mkdir(outsideDir);
  await symlink(outsideDir, path.join(root, 'mk-link'));
  await assert.rejects(
    fs.ensureWritable(folderAt(path.join(root, 'mk-link', 'new'))),
    /outside the allowed storage roots/,
  );
  assert.deepEqual(await readdir(outsideDir), []);
});
