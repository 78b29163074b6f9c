// What a coordinator does at start: it says which database file it uses (the
// default --db is relative to where it was started), and one that cannot listen
// (port in use) leaves no database file behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startProgram, stopAll } from './processes.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-coordinator-start-');
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/** Runs the coordinator in `cwd` until it prints its address (then stops it) or exits. */
async function runCoordinator(
  cwd: string,
  args: string[],
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const coordinator = startProgram(['coordinator', ...args], { cwd });
  // Printing its address means it started: stop it. A coordinator that fails exits by itself.
  await coordinator.firstLine().then(
    () => coordinator.child.kill('SIGTERM'),
    () => {},
  );
  const code = await coordinator.exited;
  return { code, ...coordinator.output() };
}

it('a coordinator started with the default --db names the database file it uses, as an absolute path', async () => {
  const cwd = path.join(dir.path, 'default-db');
  await mkdir(cwd);
  const r = await runCoordinator(cwd, ['--listen', '127.0.0.1:0', '--log-format', 'pretty']);
  const file = path.join(cwd, 'avspl1t.db');
  assert.ok(existsSync(file), r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`coordinator listening .*db=${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    r.stderr,
  );
});

it('a coordinator that cannot listen (port in use) exits with the reason and creates no database file', async () => {
  const held: Server = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  const { port } = held.address() as { port: number };
  const cwd = path.join(dir.path, 'port-in-use');
  await mkdir(cwd);
  try {
    const r = await runCoordinator(cwd, ['--listen', `127.0.0.1:${port}`, '--db', 'jobs.db']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /EADDRINUSE/);
    assert.deepEqual(readdirSync(cwd), [], 'no database file (nor -wal/-shm) left behind');
  } finally {
    held.close();
  }
});
