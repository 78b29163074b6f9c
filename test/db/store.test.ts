// TaskStore contract: the same behaviour on every database (SQLite files; PostgreSQL
// too when installed, see databases.ts). Each test gets its own fresh database.
// Fixtures are written with Kysely (`store.db`, the admin door); the behaviour
// under test goes through the TaskStore methods the coordinator uses.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { Policy } from '../../src/coordinator/decide.js';
import {
  type ClaimRequest,
  JobState,
  type NewTask,
  openTaskStore,
  TaskKind,
  TaskState,
  type TaskStore,
} from '../../src/db/index.js';
import { databaseFactories } from './databases.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };

async function addJob(store: TaskStore, tasks: number, createdAt = NOW): Promise<string> {
  const id = randomUUID();
  await store.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('jobs')
      .values({
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
      })
      .execute();
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
    if (rows.length > 0) await trx.insertInto('tasks').values(rows).execute();
  });
  return id;
}

const claimReq = (now = NOW, workerId = 'w'): ClaimRequest => ({
  now,
  workerId,
  lease: randomUUID(),
  leaseMs: 1000,
});

for (const factory of databaseFactories()) {
  describe(`store on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('opening migrates a new database, and reopening it keeps the data', async () => {
      const db = await factory.create();
      try {
        let store = await openTaskStore(db.location);
        const id = await addJob(store, 2);
        await store.close();
        store = await openTaskStore(db.location);
        const job = (await store.getJob(id))?.job;
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
      const a = await openTaskStore(db.location);
      const b = await openTaskStore(db.location);
      try {
        await addJob(a, 30);
        const claims = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).claim(claimReq(NOW, `w${i}`))),
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
      const store = await openTaskStore(db.location);
      try {
        await addJob(store, 40);
        const claimed = await store.claim(claimReq());
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
        const store = await openTaskStore(db.location, { poolSize: 1 });
        try {
          await addJob(store, 3);
          const claim = () => store.claim(claimReq());
          const first = await claim();
          assert.ok(first);
          const prepared = (
            await sql
              .raw<{ name: string; statement: string }>('select name, statement from pg_prepared_statements')
              .execute(store.db)
          ).rows;
          const claimStatement = prepared.find((p) => /update tasks set state = 'running'/.test(p.statement));
          assert.ok(claimStatement, 'the claim is a prepared statement of the session');
          // A later migration adds a column while this coordinator runs: its prepared
          // statements must keep working (with `*` PostgreSQL would refuse them).
          await sql.raw('alter table tasks add column later text').execute(store.db);
          await sql.raw('alter table jobs add column later text').execute(store.db);
          const second = await claim();
          assert.ok(second, 'the claim still runs');
          assert.equal(second.job_id, first.job_id);
          assert.equal((await store.getJob(first.job_id))?.job.id, first.job_id);
          const status = await store.heartbeat({
            taskId: first.id,
            lease: first.lease!,
            workerId: 'w',
            progress: 0.5,
            now: NOW,
            leaseMs: 1000,
          });
          assert.equal(status?.leaseValid, true);
        } finally {
          await store.close();
          await db.cleanup();
        }
      });

    test('claims take the oldest job first and respect run_after', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        const newer = await addJob(store, 1, NOW + 10);
        const older = await addJob(store, 1, NOW);
        await store.db
          .updateTable('tasks')
          .set({ run_after: NOW + 5 })
          .where('job_id', '=', older)
          .execute();
        const claimAt = (now: number) => store.claim(claimReq(now));
        assert.equal((await claimAt(NOW + 10))?.job_id, older);
        assert.equal((await claimAt(NOW + 10))?.job_id, newer);
        assert.equal(await claimAt(NOW + 10), undefined);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    test('heartbeats and finishes refuse a wrong, foreign or expired lease; the sweep finds the expired one', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        await addJob(store, 1);
        const t = (await store.claim(claimReq()))!;
        const lease = t.lease!;
        const beat = (l: string, workerId: string, now: number) =>
          store.heartbeat({ taskId: t.id, lease: l, workerId, progress: 0.5, now, leaseMs: 1000 });
        assert.deepEqual(await beat(lease, 'w', NOW + 500), { leaseValid: true, cancelled: false });
        assert.equal((await beat('other', 'w', NOW + 600))?.leaseValid, false);
        assert.equal((await beat(lease, 'someone-else', NOW + 600))?.leaseValid, false);
        assert.equal((await beat(lease, 'w', NOW + 1501))?.leaseValid, false, 'expired at 1500');
        assert.equal(
          await store.heartbeat({ taskId: 'nope', lease, workerId: 'w', progress: 0, now: NOW, leaseMs: 1 }),
          undefined,
        );
        const late = await store.finish({
          taskId: t.id,
          lease,
          workerId: 'w',
          now: NOW + 1600,
          outcome: { kind: 'failed', reason: 'x', transient: false },
          policy,
        });
        assert.equal(late.status, 'lease-lost');
        const row = await store.db
          .selectFrom('tasks')
          .selectAll()
          .where('id', '=', t.id)
          .executeTakeFirstOrThrow();
        assert.equal(row.state, TaskState.Running, 'the late finish changed nothing');
        assert.equal(row.progress, 0.5);
        const expired = await store.expireLeases(NOW + 1600, 1000, policy, 10);
        assert.deepEqual(
          expired.map((e) => [e.task.id, e.effects.task.state]),
          [[t.id, TaskState.Queued]],
        );
        assert.deepEqual(await store.expireLeases(NOW + 1600, 1000, policy, 10), [], 'expired once');
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    if (factory.name === 'postgres')
      test('a claim skips a task row another transaction holds instead of waiting for it', async () => {
        const db = await factory.create();
        const store = await openTaskStore(db.location, { poolSize: 2 });
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
            store.claim(claimReq()),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('the claim waited for a locked row')), 30_000).unref(),
            ),
          ]);
          assert.ok(claimed, 'claimed while the other transaction is open');
          assert.notEqual(claimed.id, held.rows[0].id, 'the locked task was skipped, not waited for');
          assert.equal(claimed.idx, 1);
          await other.query('ROLLBACK');
          const next = await store.claim(claimReq());
          assert.equal(next?.id, held.rows[0].id, 'once released it is claimable');
        } finally {
          await other.end();
          await store.close();
          await db.cleanup();
        }
      });

    test('workers are recorded with their claim counts', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        await addJob(store, 2);
        await store.workerSeen('w1', NOW);
        await store.claim(claimReq(NOW + 5, 'w1'));
        await store.claim(claimReq(NOW + 9, 'w1'));
        await store.workerSeen('w1', NOW + 9, { host: 'h1', slots: 4 });
        const { workers, running } = await store.listWorkers();
        const w = workers[0];
        assert.deepEqual(
          {
            id: w?.id,
            first: w?.first_seen_at,
            last: w?.last_seen_at,
            claims: w?.claims,
            host: w?.host,
            slots: w?.slots,
          },
          { id: 'w1', first: NOW, last: NOW + 9, claims: 2, host: 'h1', slots: 4 },
        );
        assert.equal(running.length, 2);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    test('a finish that throws (a result of the wrong kind) changes nothing; others are unaffected', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        await addJob(store, 2);
        const [a, b] = [(await store.claim(claimReq()))!, (await store.claim(claimReq()))!];
        const finish = (t: typeof a, outcome: Parameters<TaskStore['finish']>[0]['outcome']) =>
          store.finish({ taskId: t.id, lease: t.lease!, workerId: 'w', now: NOW + 1, outcome, policy });
        const results = await Promise.allSettled([
          finish(a, {
            kind: 'succeeded',
            result: { case: 'audio', value: { $typeName: 'avspl1t.v1.AudioResult' } },
          }),
          finish(b, { kind: 'released', reason: 'stopping' }),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['rejected', 'fulfilled'],
        );
        const rows = await store.db.selectFrom('tasks').select(['id', 'state', 'attempts']).execute();
        const byId = new Map(rows.map((r) => [r.id, r]));
        assert.equal(byId.get(a.id)?.state, TaskState.Running, 'the throwing finish was rolled back');
        assert.deepEqual([byId.get(b.id)?.state, byId.get(b.id)?.attempts], [TaskState.Queued, 0]);
        const runs = await store.db.selectFrom('task_runs').select(['lease', 'outcome']).execute();
        assert.deepEqual(
          new Map(runs.map((r) => [r.lease, r.outcome])),
          new Map([
            [a.lease, null],
            [b.lease, 'released'],
          ]),
        );
      } finally {
        await store.close();
        await db.cleanup();
      }
    });
  });
}
