// How many statements the PostgreSQL store sends for the hot path, counted by the
// server itself: the test database logs every statement it executes
// (`log_statement = 'all'`), and the test reads them from the server log.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Coordinator } from '../../src/coordinator/index.js';
import { ManualClock, openTaskStore, type TaskStore } from '../../src/db/index.js';
import { claim, finishRequest, resultFor, sampleJob, succeed } from '../fixtures/messages.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { databaseFactories } from './databases.js';

// Selected as the contract suites are (AVSPL1T_TEST_DB; `all` without PostgreSQL fails).
const skip = databaseFactories().some((f) => f.name === 'postgres') ? false : 'PostgreSQL not selected';

let server: PostgresServer;
before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => server?.stop());

/** The statements the server logged after byte `from` of its log: `begin`, `commit`, or a prepared statement's name. */
function loggedStatements(log: string, from: number): string[] {
  const text = readFileSync(log).subarray(from).toString('utf8');
  return [...text.matchAll(/LOG: {2}(?:statement: (\w+)|execute ([^:]+):)/g)].map((m) =>
    (m[1] ?? m[2]!).toLowerCase(),
  );
}

test('a finish with the next claim is one transaction of five statements on PostgreSQL', {
  skip,
}, async () => {
  const url = await server.createDatabase('statements');
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query("alter database statements set log_statement = 'all'");
  await admin.end();
  const log = path.join(path.dirname(server.dataDir), 'server.log');

  const store: TaskStore = await openTaskStore(url);
  const c = new Coordinator(store, { clock: new ManualClock(), pollIntervalMs: 20 });
  try {
    await c.submitJob(sampleJob('/data'));
    const split = (await claim(c, 'w1'))!;
    assert.equal(await succeed(c, 'w1', split, 6), true);
    const encode = (await claim(c, 'w1'))!;
    assert.equal(encode.kind.case, 'encode');

    const from = readFileSync(log).length;
    const done = await c.finish(finishRequest('w1', encode, resultFor(encode), { wantNext: true }));
    assert.equal(done.accepted, true);
    assert.equal(done.next?.kind.case, 'encode', 'the finish claimed the next encode');
    assert.deepEqual(loggedStatements(log, from), [
      'begin',
      // The task and its job are locked by one statement.
      'avspl1t_lock_task_with_job',
      // The task, its run and the job's counts change in one statement.
      'avspl1t_change_task_run_job',
      'avspl1t_claim',
      'commit',
    ]);
  } finally {
    c.close();
    await store.close();
  }
});
