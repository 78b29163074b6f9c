// How many socket writes the PostgreSQL store makes for the hot path, counted by
// the kernel (`syscw` of /proc/self/io: write and writev calls of this process).
// pg writes every statement as it is queued; a transaction's steps go out in one
// write each, so the server is woken once per round trip, not once per statement.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Coordinator } from '../../src/coordinator/index.js';
import { ManualClock, openTaskStore, type TaskStore } from '../../src/db/index.js';
import { claim, finishRequest, resultFor, sampleJob, succeed } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';
import { databaseFactories } from './databases.js';

// Selected as the contract suites are (AVSPL1T_TEST_DB); Linux only (/proc/self/io).
const skip = !databaseFactories().some((f) => f.name === 'postgres')
  ? 'PostgreSQL not selected'
  : !existsSync('/proc/self/io')
    ? 'no /proc/self/io'
    : false;

const server = usePostgres({ skip });

/** Write system calls this process has made so far. */
function writeCalls(): number {
  return Number(/syscw:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

/** The write calls `fn` makes (nothing else in this process writes meanwhile). */
async function writesOf<T>(fn: () => Promise<T>): Promise<{ value: T; writes: number }> {
  const before = writeCalls();
  const value = await fn();
  return { value, writes: writeCalls() - before };
}

test('a finish with the next claim reaches PostgreSQL in two writes, a claim in one', { skip }, async () => {
  const store: TaskStore = await openTaskStore(await server().createDatabase('writes'));
  const c = new Coordinator(store, { clock: new ManualClock(), pollIntervalMs: 20 });
  try {
    await c.submitJob(sampleJob('/data'));
    const split = (await claim(c, 'w1'))!;
    assert.equal(await succeed(c, 'w1', split, 6), true);

    const claimed = await writesOf(() => claim(c, 'w1'));
    assert.equal(claimed.value?.kind.case, 'encode');
    // BEGIN, the claim and COMMIT.
    assert.equal(claimed.writes, 1);

    const encode = claimed.value!;
    const finished = await writesOf(() =>
      c.finish(finishRequest('w1', encode, resultFor(encode), { wantNext: true })),
    );
    assert.equal(finished.value.accepted, true);
    assert.equal(finished.value.next?.kind.case, 'encode', 'the finish claimed the next encode');
    // BEGIN with the locking read; then the writes, the claim and COMMIT.
    assert.equal(finished.writes, 2);
  } finally {
    c.close();
    await store.close();
  }
});
