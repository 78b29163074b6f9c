// SQLite shared with another connection (a second coordinator, an admin tool, a
// test reading the file): a write that finds the database locked waits without
// blocking the event loop, and goes through once the lock is released.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openTaskStore } from '../../src/db/index.js';
import { tmpDir } from '../helpers/tmp.js';

test('a write waiting for another connection to release the database does not block the event loop', async () => {
  const dir = await tmpDir('avspl1t-busy-');
  const file = path.join(dir.path, 'state.sqlite');
  const store = await openTaskStore(file);
  const other = new Database(file);
  try {
    other.exec('begin immediate');
    // The other connection commits in 300 ms: only if this process's event loop keeps running.
    setTimeout(() => other.exec('commit'), 300);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = performance.now();
    try {
      await store.workerSeen('w1', 1_900_000_000_000);
    } finally {
      clearInterval(ticker);
    }
    const waited = performance.now() - started;
    assert.ok(waited >= 250, `the write waited for the lock (${Math.round(waited)} ms)`);
    assert.ok(ticks >= 5, `the event loop ran ${ticks} times while the write waited`);
    const { workers } = await store.listWorkers();
    assert.deepEqual(
      workers.map((w) => w.id),
      ['w1'],
    );
  } finally {
    other.close();
    await store.close();
    await dir.cleanup();
  }
});
