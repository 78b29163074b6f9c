// WAL checkpoints on their own thread (src/db/sqlite/checkpointer.ts): the thread
// copies the WAL into the database while the store's connection only writes (so
// the connection never stops to checkpoint); a store that started the thread works
// on and closes cleanly, and its close() resolves with nothing else keeping the process alive.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { openTaskStore } from '../../src/db/index.js';
import { Checkpointer } from '../../src/db/sqlite/checkpointer.js';
import { tmpDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

test('the checkpoint thread copies the WAL into the database while the connection only writes', async () => {
  const dir = await tmpDir('avspl1t-ckpt-');
  const file = path.join(dir.path, 'wal.sqlite');
  const conn = new Database(file);
  conn.pragma('journal_mode = WAL');
  conn.pragma('synchronous = NORMAL');
  conn.exec('create table t (id integer primary key, v blob)');
  const insert = conn.prepare('insert into t (v) values (?)');
  const checkpointer = new Checkpointer(conn, file);
  try {
    // Wait until the thread runs (it then raises the connection's own checkpoint to 10,000 pages, ~40 MiB).
    for (let i = 0; i < 100 && Number(conn.pragma('wal_autocheckpoint', { simple: true })) !== 10_000; i++)
      await sleep(20);
    assert.equal(conn.pragma('wal_autocheckpoint', { simple: true }), 10_000, 'the thread started');
    for (let i = 0; i < 1500; i++) {
      conn.transaction(() => insert.run(Buffer.alloc(10_000, i % 251)))();
      // Commits come from an event loop that serves calls in between.
      if (i % 20 === 0) await sleep(2);
    }
    // The connection alone would copy nothing into the database file before its WAL reached ~40 MiB:
    // the data gets there only through the thread (given time: a checkpoint waits for the disk).
    const deadline = Date.now() + 20_000;
    while (statSync(file).size < 13 * MiB && Date.now() < deadline) await sleep(50);
    assert.ok(statSync(file).size >= 13 * MiB, `database file ${(statSync(file).size / MiB).toFixed(1)} MiB`);
    assert.deepEqual(conn.prepare('select count(*) as n from t').get(), { n: 1500 });
  } finally {
    await checkpointer.stop();
    // Once stopped, the connection checkpoints by itself again.
    assert.equal(conn.pragma('wal_autocheckpoint', { simple: true }), 1000);
    conn.close();
    await dir.cleanup();
  }
});

test('a store that moved its checkpoints to the thread keeps its data and closes', async () => {
  const dir = await tmpDir('avspl1t-ckpt-');
  const file = path.join(dir.path, 'state.sqlite');
  const store = await openTaskStore(file);
  const started = 1_900_000_000_000;
  try {
    // More writes than the store makes before it starts the thread (200), with the thread running for the last.
    for (let i = 0; i < 400; i++) {
      // A claim with nothing queued is still a write transaction.
      assert.equal(
        await store.claim({ now: started + i, workerId: `w${i}`, lease: `l${i}`, leaseMs: 1000 }),
        undefined,
      );
      await store.workerSeen(`w${i}`, started + i, { host: `h${i}`, slots: 1 });
      if (i % 50 === 0) await sleep(150);
    }
  } finally {
    await store.close();
  }
  const check = new Database(file, { readonly: true });
  try {
    assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
    assert.deepEqual(check.prepare('select count(*) as n from workers').get(), { n: 400 });
  } finally {
    check.close();
    await dir.cleanup();
  }
});

test('close() resolves after the checkpoint thread started, with nothing else keeping the process alive', async () => {
  const dir = await tmpDir('avspl1t-ckpt-');
  // A process whose only work is the store: once the thread runs, `close()` is all that is left to wait for.
  const script = `
    const { openTaskStore } = await import(${JSON.stringify(new URL('../../src/db/index.js', import.meta.url).href)});
    const store = await openTaskStore(${JSON.stringify(path.join(dir.path, 'state.sqlite'))});
    for (let i = 0; i < 250; i++) await store.workerSeen('w' + i, 1_900_000_000_000 + i, { host: 'h', slots: 1 });
    await store.close();
    console.log('closed');
  `;
  try {
    const child = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { timeout: 30_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    assert.deepEqual(child, { code: 0, stdout: 'closed\n', stderr: '' });
  } finally {
    await dir.cleanup();
  }
});
