import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../helpers/exec.js';
import { freePort, tmpDir } from '../helpers/tmp.js';

test('tmpDir makes a fresh directory and cleanup deletes it with its contents, twice safely', async () => {
  const a = await tmpDir('infra-');
  const b = await tmpDir('infra-');
  assert.notEqual(a.path, b.path);
  await writeFile(join(a.path, 'f.txt'), 'x');
  await a.cleanup();
  await a.cleanup();
  await b.cleanup();
  assert.equal(existsSync(a.path), false);
  assert.equal(existsSync(b.path), false);
});

test('freePort returns a loopback port that can be listened on', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('run keeps stderr in the error of a failing program and kills one that overruns', async () => {
  const ok = await run(process.execPath, ['-e', 'process.stdout.write("hi")']);
  assert.equal(ok.stdout, 'hi');
  await assert.rejects(run(process.execPath, ['-e', 'console.error("boom"); process.exit(3)']), /boom/);
  const started = Date.now();
  await assert.rejects(run(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 }));
  assert.ok(Date.now() - started < 5_000);
});
