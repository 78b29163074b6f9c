// The SQLite database holds S3 keys a job may carry: its file and the -wal and
// -shm beside it are readable by their owner only (0600), whatever the umask.
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Coordinator } from '../../src/coordinator/index.js';
import { openTaskStore } from '../../src/db/index.js';
import { sampleJob } from '../fixtures/messages.js';
import { tmpDir } from '../helpers/tmp.js';

async function modes(db: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of [db, `${db}-wal`, `${db}-shm`])
    out[path.basename(f)] = ((await stat(f)).mode & 0o777).toString(8);
  return out;
}

test('a new SQLite database and its -wal/-shm are created 0600 under a permissive umask', async () => {
  const dir = await tmpDir('avspl1t-modes-');
  const previous = process.umask(0o000);
  try {
    const db = path.join(dir.path, 'state.sqlite');
    const store = await openTaskStore(db);
    try {
      // A write, so the WAL holds something while we look.
      await new Coordinator(store).submitJob(sampleJob());
      assert.deepEqual(await modes(db), {
        'state.sqlite': '600',
        'state.sqlite-wal': '600',
        'state.sqlite-shm': '600',
      });
    } finally {
      await store.close();
    }
  } finally {
    process.umask(previous);
    await dir.cleanup();
  }
});

test('an existing database file readable by others is made 0600 when opened', async () => {
  const dir = await tmpDir('avspl1t-modes-');
  try {
    const db = path.join(dir.path, 'old.sqlite');
    await writeFile(db, '');
    await chmod(db, 0o644);
    const store = await openTaskStore(db);
    try {
      await new Coordinator(store).submitJob(sampleJob());
      assert.deepEqual(await modes(db), {
        'old.sqlite': '600',
        'old.sqlite-wal': '600',
        'old.sqlite-shm': '600',
      });
    } finally {
      await store.close();
    }
  } finally {
    await dir.cleanup();
  }
});
