// Store contract: the same behaviour on every database (SQLite files; PostgreSQL
// too when installed, see databases.ts). Each test gets its own fresh database.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { JobState, type NewTask, Store, TaskKind, TaskState } from '../../src/db/index.js';
import { databaseFactories } from './databases.js';

const NOW = 1_900_000_000_000;

async function addJob(store: Store, tasks: number, createdAt = NOW): Promise<string> {
  const id = randomUUID();
  await store.transaction(async (q) => {
    await q.jobs.insert({
      id,
      state: JobState.Queued,
      details: new Uint8Array([1, 2, 3, 0, 255]),
      source: null,
      result: null,
      failure_reason: null,
      segments_total: tasks,
      segments_done: 0,
      has_audio: 0,
      audio_done: 0,
      created_at: createdAt,
      updated_at: createdAt,
      finished_at: null,
    });
    const rows: NewTask[] = Array.from({ length: tasks }, (_, i) => ({
      id: randomUUID(),
      job_id: id,
      kind: TaskKind.Encode,
      idx: i,
      ord: i + 1,
      job_created_at: createdAt,
      state: TaskState.Queued,
      payload: new Uint8Array([i % 256]),
      result: null,
      attempts: 0,
      max_attempts: 3,
      lease: null,
      lease_owner: null,
      lease_expires_at: null,
      run_after: createdAt,
      last_error: null,
      progress: 0,
      created_at: createdAt,
      updated_at: createdAt,
      finished_at: null,
    }));
    await q.tasks.insert(rows);
  });
  return id;
}

for (const factory of databaseFactories()) {
  describe(`store on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('opening migrates a new database, and reopening it keeps the data', async () => {
      const db = await factory.create();
      try {
        let store = await Store.open(db.location);
        const id = await addJob(store, 2);
        await store.close();
        store = await Store.open(db.location);
        const job = await store.query((q) => q.jobs.get(id));
        assert.equal(job?.segments_total, 2);
        assert.deepEqual([...(job?.details ?? [])], [1, 2, 3, 0, 255], 'blobs round-trip byte for byte');
        assert.equal(typeof job?.created_at, 'number', 'bigint columns read as numbers');
        assert.equal(job?.created_at, NOW);
        await store.close();
      } finally {
        await db.cleanup();
      }
    });

    test('two stores on one database (two coordinators) never lease one task twice', async () => {
      const db = await factory.create();
      const a = await Store.open(db.location);
      const b = await Store.open(db.location);
      try {
        await addJob(a, 30);
        const claims = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            (i % 2 ? a : b).transaction((q) =>
              q.tasks.claim({ now: NOW, workerId: `w${i}`, lease: randomUUID(), leaseMs: 1000 }),
            ),
          ),
        );
        const got = claims.filter((c) => c !== undefined);
        assert.equal(got.length, 30);
        assert.equal(new Set(got.map((c) => c.id)).size, 30);
        assert.ok(got.every((c) => c.attempts === 1 && c.state === TaskState.Running));
      } finally {
        await a.close();
        await b.close();
        await db.cleanup();
      }
    });

    test('the claim and lease sweep read partial indexes holding only queued / running tasks', async () => {
      const db = await factory.create();
      const store = await Store.open(db.location);
      try {
        await addJob(store, 40);
        const claimed = await store.transaction((q) =>
          q.tasks.claim({ now: NOW, workerId: 'w', lease: randomUUID(), leaseMs: 1000 }),
        );
        assert.ok(claimed);
        const claim =
          "select id from tasks where state = 'queued' and run_after <= 1 order by job_created_at, job_id, ord limit 1";
        const lease =
          "select id from tasks where state = 'running' and lease_expires_at < 1 order by lease_expires_at";
        if (factory.name === 'sqlite') {
          const plan = async (q: string) =>
            JSON.stringify((await sql.raw(`explain query plan ${q}`).execute(store.db)).rows);
          assert.match(await plan(claim), /USING INDEX tasks_claim/);
          assert.match(await plan(lease), /USING INDEX tasks_lease/);
          const defs = (
            await sql
              .raw<{ sql: string }>(
                "select sql from sqlite_master where name in ('tasks_claim', 'tasks_lease') order by name",
              )
              .execute(store.db)
          ).rows.map((r) => r.sql);
          assert.match(defs[0]!, /where "state" = 'queued'/i);
          assert.match(defs[1]!, /where "state" = 'running'/i);
        } else {
          // PostgreSQL's planner prefers a scan of a table this small; ask it for the index.
          const plan = (q: string) =>
            store.db.transaction().execute(async (trx) => {
              await sql.raw('set local enable_seqscan = off').execute(trx);
              return JSON.stringify((await sql.raw(`explain ${q}`).execute(trx)).rows);
            });
          assert.match(await plan(claim), /tasks_claim/);
          assert.match(await plan(lease), /tasks_lease/);
          const defs = (
            await sql
              .raw<{ indexdef: string }>(
                "select indexdef from pg_indexes where tablename = 'tasks' and indexname in ('tasks_claim', 'tasks_lease') order by indexname",
              )
              .execute(store.db)
          ).rows.map((r) => r.indexdef);
          assert.match(defs[0]!, /WHERE \(state = 'queued'::text\)/);
          assert.match(defs[1]!, /WHERE \(state = 'running'::text\)/);
        }
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    if (factory.name === 'postgres')
      test('PostgreSQL runs the hand-written statements prepared once per connection, and a column added later does not break them', async () => {
        const db = await factory.create();
        // One connection, so the session's prepared statements are the ones the queries used.
        const store = await Store.open(db.location, { poolSize: 1 });
        try {
          await addJob(store, 3);
          const claim = () =>
            store.query((q) =>
              q.tasks.claimAndRecord({ now: NOW, workerId: 'w', lease: randomUUID(), leaseMs: 1000 }),
            );
          const first = await claim();
          assert.ok(first);
          const prepared = (
            await sql
              .raw<{ name: string; statement: string }>('select name, statement from pg_prepared_statements')
              .execute(store.db)
          ).rows;
          const claimStatement = prepared.find((p) => /update tasks set state = 'running'/.test(p.statement));
          assert.ok(claimStatement, 'the claim is a prepared statement of the session');
          assert.match(claimStatement.name, /^avspl1t_\d+$/);
          // A later migration adds a column while this coordinator runs: its prepared
          // statements must keep working (with `*` PostgreSQL would refuse them).
          await sql.raw('alter table tasks add column later text').execute(store.db);
          await sql.raw('alter table jobs add column later text').execute(store.db);
          const second = await claim();
          assert.ok(second, 'the claim still runs');
          assert.equal(second.job_id, first.job_id);
          assert.equal((await store.query((q) => q.jobs.get(first.job_id)))?.id, first.job_id);
          assert.equal((await store.query((q) => q.tasks.get(first.id)))?.lease, first.lease);
        } finally {
          await store.close();
          await db.cleanup();
        }
      });

    test('claims take the oldest job first and respect run_after', async () => {
      const db = await factory.create();
      const store = await Store.open(db.location);
      try {
        const newer = await addJob(store, 1, NOW + 10);
        const older = await addJob(store, 1, NOW);
        await store.db
          .updateTable('tasks')
          .set({ run_after: NOW + 5 })
          .where('job_id', '=', older)
          .execute();
        const claimAt = (now: number) =>
          store.transaction((q) => q.tasks.claim({ now, workerId: 'w', lease: randomUUID(), leaseMs: 1000 }));
        assert.equal((await claimAt(NOW + 10))?.job_id, older);
        assert.equal((await claimAt(NOW + 10))?.job_id, newer);
        assert.equal(await claimAt(NOW + 10), undefined);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    test('lease-guarded updates refuse a wrong or expired lease', async () => {
      const db = await factory.create();
      const store = await Store.open(db.location);
      try {
        await addJob(store, 1);
        const lease = randomUUID();
        const t = (await store.transaction((q) =>
          q.tasks.claim({ now: NOW, workerId: 'w', lease, leaseMs: 1000 }),
        ))!;
        const ok = await store.query((q) => q.tasks.extendLease(t.id, lease, NOW + 500, 1000, 0.5));
        assert.equal(ok, true);
        assert.equal(
          await store.query((q) => q.tasks.extendLease(t.id, 'other', NOW + 600, 1000, 0.5)),
          false,
        );
        assert.equal(
          await store.query((q) => q.tasks.extendLease(t.id, lease, NOW + 1501, 1000, 0.5)),
          false,
        );
        const done = await store.query((q) =>
          q.tasks.updateLeased(t.id, lease, NOW + 1600, { state: TaskState.Succeeded }),
        );
        assert.equal(done, undefined, 'expired lease');
        const expired = await store.query((q) => q.tasks.expired(NOW + 1600, 10));
        assert.deepEqual(
          expired.map((e) => e.id),
          [t.id],
        );
        assert.equal((await store.query((q) => q.tasks.get(t.id)))?.progress, 0.5);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    if (factory.name === 'postgres')
      test('a claim skips a task row another transaction holds instead of waiting for it', async () => {
        const db = await factory.create();
        const store = await Store.open(db.location, { poolSize: 2 });
        // Another coordinator, mid-claim: its transaction holds the first task's row lock.
        const other = new pg.Client({ connectionString: db.location });
        await other.connect();
        try {
          await addJob(store, 2);
          await other.query('BEGIN');
          const held = await other.query(
            "SELECT id FROM tasks WHERE state = 'queued' ORDER BY job_created_at, job_id, ord LIMIT 1 FOR UPDATE",
          );
          // Were the claim to wait for the lock, it would wait until the ROLLBACK below: never.
          const claimed = await Promise.race([
            store.transaction((q) =>
              q.tasks.claim({ now: NOW, workerId: 'w', lease: randomUUID(), leaseMs: 1000 }),
            ),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('the claim waited for a locked row')), 30_000).unref(),
            ),
          ]);
          assert.ok(claimed, 'claimed while the other transaction is open');
          assert.notEqual(claimed.id, held.rows[0].id, 'the locked task was skipped, not waited for');
          assert.equal(claimed.idx, 1);
          await other.query('ROLLBACK');
          const next = await store.transaction((q) =>
            q.tasks.claim({ now: NOW, workerId: 'w', lease: randomUUID(), leaseMs: 1000 }),
          );
          assert.equal(next?.id, held.rows[0].id, 'once released it is claimable');
        } finally {
          await other.end();
          await store.close();
          await db.cleanup();
        }
      });

    test('workers are recorded with their claim counts', async () => {
      const db = await factory.create();
      const store = await Store.open(db.location);
      try {
        await store.query((q) => q.workers.touch('w1', NOW));
        await store.query((q) => q.workers.touch('w1', NOW + 5, true));
        await store.query((q) => q.workers.touch('w1', NOW + 9, true));
        const [w] = await store.query((q) => q.workers.list());
        assert.deepEqual(
          { id: w?.id, first: w?.first_seen_at, last: w?.last_seen_at, claims: w?.claims },
          { id: 'w1', first: NOW, last: NOW + 9, claims: 2 },
        );
      } finally {
        await store.close();
        await db.cleanup();
      }
    });
  });
}
