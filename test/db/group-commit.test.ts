// SQLite group commit: write transactions asked for in one event-loop turn share
// one BEGIN ... COMMIT, yet each one that throws is rolled back alone.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Store } from '../../src/db/index.js';
import { tmpDir } from '../helpers/tmp.js';

test('transactions committed together keep their own outcome: one that throws is rolled back alone', async () => {
  const dir = await tmpDir('avspl1t-group-');
  const store = await Store.open(path.join(dir.path, 'state.sqlite'));
  try {
    const results = await Promise.allSettled([
      store.transaction((q) => q.workers.touch('a', 1)),
      store.transaction(async (q) => {
        await q.workers.touch('b', 1);
        throw new Error('boom');
      }),
      store.transaction(async (q) => {
        await q.workers.touch('c', 1, true);
        return 'c done';
      }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /boom/);
    assert.equal((results[2] as PromiseFulfilledResult<string>).value, 'c done');
    const workers = await store.query((q) => q.workers.list());
    assert.deepEqual(
      workers.map((w) => [w.id, w.claims]),
      [
        ['a', 0],
        ['c', 1],
      ],
    );
  } finally {
    await store.close();
    await dir.cleanup();
  }
});

test('a lone transaction that throws leaves nothing behind', async () => {
  const dir = await tmpDir('avspl1t-group-');
  const store = await Store.open(path.join(dir.path, 'state.sqlite'));
  try {
    await assert.rejects(
      store.transaction(async (q) => {
        await q.workers.touch('x', 1);
        throw new Error('no');
      }),
      /no/,
    );
    assert.deepEqual(await store.query((q) => q.workers.list()), []);
  } finally {
    await store.close();
    await dir.cleanup();
  }
});
