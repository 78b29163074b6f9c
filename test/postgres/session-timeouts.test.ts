// The PostgreSQL store's sessions carry server-side time limits: a transaction
// left idle (its coordinator paused mid-way) is ended by the server, freeing its
// row locks, and the store goes on working on other connections.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { PostgresTaskStore } from '../../src/db/postgres/index.js';
import { sampleJob } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';

const policy = { maxAttempts: 3, backoffMs: () => 1000 };

const server = usePostgres();

const newDatabase = () => server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);

async function submit(store: PostgresTaskStore): Promise<string> {
  const id = randomUUID();
  const res = await store.submit(
    { id, job: sampleJob(), location: `/out/${id}`, overwrite: false, earlierFiles: false },
    Date.now(),
    policy,
  );
  assert.equal(res.submitted, true);
  return id;
}

describe('PostgreSQL session time limits', { timeout: 60_000 }, () => {
  test('a session of the store reports the idle-in-transaction and statement timeouts', async () => {
    const store = await PostgresTaskStore.open(await newDatabase());
    try {
      const show = async (name: string) =>
        (await sql<Record<string, string>>`show ${sql.raw(name)}`.execute(store.db)).rows[0]?.[name];
      assert.equal(await show('idle_in_transaction_session_timeout'), '5s');
      assert.equal(await show('statement_timeout'), '1min');
    } finally {
      await store.close();
    }
  });

  test('a query parameter of the database URL overrides a limit', async () => {
    const store = await PostgresTaskStore.open(`${await newDatabase()}?statement_timeout=1234`);
    try {
      const { rows } = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(store.db);
      assert.equal(rows[0]?.statement_timeout, '1234ms');
    } finally {
      await store.close();
    }
  });

  test('a transaction left idle is ended by the server; the store keeps working', async () => {
    const poolErrors: Error[] = [];
    const store = await PostgresTaskStore.open(await newDatabase(), {
      onPoolError: (err) => poolErrors.push(err),
    });
    try {
      const jobId = await submit(store);
      const error = await store.db.connection().execute(async (conn) => {
        // Holds the job's row lock, then sits like a coordinator stopped mid-transaction.
        await sql`begin`.execute(conn);
        await sql`select id from jobs where id = ${jobId} for update`.execute(conn);
        await new Promise((r) => setTimeout(r, 6_500));
        return sql`select 1`.execute(conn).then(
          () => undefined,
          (err: unknown) => err as Error,
        );
      });
      assert.ok(error, 'the connection is unusable after the wait');
      // What the server said as it ended the session: idle_in_transaction_session_timeout.
      assert.equal(
        (poolErrors[0] as (Error & { code?: string }) | undefined)?.code,
        '25P03',
        String(poolErrors[0]),
      );
      // The lock is gone (NOWAIT fails at once on a held one) and the pool replaces the lost connection.
      await store.db
        .transaction()
        .execute((trx) => sql`select id from jobs where id = ${jobId} for update nowait`.execute(trx));
      assert.equal((await store.getJob(jobId))?.job.id, jobId);
      assert.ok(await submit(store));
    } finally {
      await store.close();
    }
  });
});
