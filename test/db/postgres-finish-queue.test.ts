// A coordinator's finishes wait for each other in the coordinator, not in PostgreSQL:
// finishes of one job are serialized by the job's row lock anyway, and a
// backend waiting on a row lock costs the server a sleep, a wake-up and a recheck
// of the rows it locks, where a queued promise costs nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Coordinator } from '../../src/coordinator/index.js';
import { ManualClock, openTaskStore, type TaskStore } from '../../src/db/index.js';
import { lockTaskWithJob } from '../../src/db/postgres/tasks-sql.js';
import { claim, finishRequest, resultFor, sampleJob, succeed } from '../fixtures/messages.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { databaseFactories } from './databases.js';

// Selected as the contract suites are (AVSPL1T_TEST_DB).
const skip = databaseFactories().some((f) => f.name === 'postgres') ? false : 'PostgreSQL not selected';

let server: PostgresServer;
before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => server?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Backends of `db` waiting for a lock (from pg_stat_activity). */
async function waitingOnLocks(admin: pg.Client, db: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'",
    [db],
  );
  return rows[0]!.n;
}

test('finishes of one job wait in the coordinator, one at a time in PostgreSQL', { skip }, async () => {
  const url = await server.createDatabase('finish_queue');
  const store: TaskStore = await openTaskStore(url);
  const c = new Coordinator(store, { clock: new ManualClock(), pollIntervalMs: 20 });
  // Another session holds the job's lock, as another coordinator's finish would.
  const holder = new pg.Client({ connectionString: url });
  const admin = new pg.Client({ connectionString: url });
  await Promise.all([holder.connect(), admin.connect()]);
  try {
    await c.submitJob(sampleJob('/data'));
    const split = (await claim(c, 'w1'))!;
    assert.equal(await succeed(c, 'w1', split, 6), true);
    const encodes = [(await claim(c, 'w1'))!, (await claim(c, 'w2'))!, (await claim(c, 'w3'))!];
    await holder.query('begin');
    await holder.query(lockTaskWithJob(encodes[0]!.id));

    const finishes = encodes.slice(1).map((t, i) => c.finish(finishRequest(`w${i + 2}`, t, resultFor(t))));
    // Long enough for every finish sent to reach the lock.
    for (let i = 0; i < 50 && (await waitingOnLocks(admin, 'finish_queue')) < 1; i++) await sleep(20);
    await sleep(300);
    assert.equal(await waitingOnLocks(admin, 'finish_queue'), 1, 'backends waiting on the job lock');

    await holder.query('rollback');
    const done = await Promise.all(finishes);
    assert.deepEqual(
      done.map((d) => d.accepted),
      [true, true],
    );
    // Both counted: the job's row says so.
    const { rows } = await admin.query<{ segments_done: number }>('select segments_done from jobs');
    assert.equal(rows[0]!.segments_done, 2);
  } finally {
    await Promise.all([holder.end(), admin.end()]);
    c.close();
    await store.close();
  }
});
