// How many statements the PostgreSQL store sends for the hot path, counted by the
// server itself: the test database logs every statement it executes
// (`log_statement = 'all'`), and the test reads them from the server log.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { Coordinator } from '../../src/coordinator/index.js';
import { ManualClock, openTaskStore, type TaskStore } from '../../src/db/index.js';
import { claim, finishRequest, resultFor, sampleJob, succeed } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';
import { databaseFactories } from './databases.js';

// Selected as the contract suites are (AVSPL1T_TEST_DB; `all` without PostgreSQL fails).
const skip = databaseFactories().some((f) => f.name === 'postgres') ? false : 'PostgreSQL not selected';

const server = usePostgres({ skip });

/** The statements the server logged after byte `from` of its log: `begin`, `commit`, or a prepared statement's name. */
function loggedStatements(log: string, from: number): string[] {
  const text = readFileSync(log).subarray(from).toString('utf8');
  return [...text.matchAll(/LOG: {2}(?:statement: (\w+)|execute ([^:]+):)/g)].map((m) =>
    (m[1] ?? m[2]!).toLowerCase(),
  );
}

test('a finish that only counts is one read and one transaction of two statements; the last encode takes the locked path', {
  skip,
}, async () => {
  const url = await server().createDatabase('statements');
  const admin = new pg.Client({ connectionString: server().url });
  await admin.connect();
  await admin.query("alter database statements set log_statement = 'all'");
  await admin.end();
  const log = path.join(path.dirname(server().dataDir), 'server.log');

  const store: TaskStore = await openTaskStore(url);
  const c = new Coordinator(store, { clock: new ManualClock(), pollIntervalMs: 20 });
  try {
    await c.submitJob(sampleJob('/data'));
    const split = (await claim(c, 'w1'))!;
    assert.equal(await succeed(c, 'w1', split, 2), true);
    const first = (await claim(c, 'w1'))!;
    assert.equal(first.kind.case, 'encode');

    // A success that leaves other encodes to do: nothing is locked while the
    // coordinator decides; the count and the next claim are one transaction.
    let from = readFileSync(log).length;
    const counted = await c.finish(finishRequest('w1', first, resultFor(first), { wantNext: true }));
    assert.equal(counted.accepted, true);
    const second = counted.next!;
    assert.equal(second?.kind.case, 'encode', 'the finish claimed the next encode');
    assert.deepEqual(loggedStatements(log, from), [
      // The task and its job, read without locks (outside the transaction).
      'avspl1t_task_with_job',
      'begin',
      // The task, its run and the job's counts change in one statement, guarded
      // by the lease and the job's state.
      'avspl1t_count_success',
      // The next task, claimed only if the count applied.
      'avspl1t_claim_after_success',
      'commit',
    ]);

    // The success that finishes the encodes creates the manifest task: the
    // unlocked read sees that, and the finish locks task and job to decide.
    from = readFileSync(log).length;
    const last = await c.finish(finishRequest('w1', second, resultFor(second), { wantNext: true }));
    assert.equal(last.accepted, true);
    assert.equal(last.next?.kind.case, 'manifest', 'the finish claimed the manifest it created');
    const locked = loggedStatements(log, from);
    assert.deepEqual(
      locked.slice(0, 3),
      ['avspl1t_task_with_job', 'begin', 'avspl1t_lock_task_with_job'],
      locked.join(', '),
    );
    assert.equal(locked.at(-1), 'commit');
    assert.equal(locked.filter((s) => s === 'begin').length, 1, locked.join(', '));
  } finally {
    c.close();
    await store.close();
  }
});
