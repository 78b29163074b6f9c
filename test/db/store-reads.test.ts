// TaskStore reads for the console, the metrics and /readyz (countStates, jobRuns,
// missingMigrations), on every database the contract suite runs against. Expected
// values are read from the tables with Kysely (the admin door), not from the store.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { JobState, openTaskStore, TaskKind, TaskState, type TaskStore } from '../../src/db/index.js';
import { databaseFactories } from './databases.js';

const NOW = 1_900_000_000_000;

/** A queued job with `tasks` queued encode tasks, written with Kysely. */
async function addJob(store: TaskStore, tasks: number, createdAt = NOW): Promise<string> {
  const id = randomUUID();
  const times = { created_at: createdAt, updated_at: createdAt, finished_at: null };
  await store.db
    .insertInto('jobs')
    .values({
      id,
      state: JobState.Queued,
      details: new Uint8Array([1]),
      source: null,
      result: null,
      failure_reason: null,
      segments_total: tasks,
      segments_done: 0,
      has_audio: 0,
      audio_done: 0,
      ...times,
    })
    .execute();
  await store.db
    .insertInto('tasks')
    .values(
      Array.from({ length: tasks }, (_, i) => ({
        id: randomUUID(),
        job_id: id,
        kind: TaskKind.Encode,
        idx: i,
        ord: i + 1,
        job_created_at: createdAt,
        state: TaskState.Queued,
        payload: new Uint8Array([i]),
        result: null,
        attempts: 0,
        max_attempts: 3,
        lease: null,
        lease_owner: null,
        lease_expires_at: null,
        run_after: NOW,
        last_error: null,
        progress: 0,
        ...times,
      })),
    )
    .execute();
  return id;
}

/** Rows per state of `table`, counted by the database. */
async function counted(store: TaskStore, table: 'jobs' | 'tasks'): Promise<Map<string, number>> {
  const { rows } = await sql<{ state: string; n: number | string }>`
    select state, count(*) as n from ${sql.table(table)} group by state`.execute(store.db);
  return new Map(rows.map((r) => [r.state, Number(r.n)]));
}

for (const factory of databaseFactories()) {
  describe(`store reads on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('countStates and jobRuns agree with the rows; jobRuns is in start order and honours its limit', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        const jobId = await addJob(store, 3);
        // A later job: claims take the first job's tasks first.
        await addJob(store, 1, NOW + 1);
        const first = await store.claim({
          now: NOW + 10,
          workerId: 'w1',
          lease: randomUUID(),
          leaseMs: 1000,
        });
        const second = await store.claim({
          now: NOW + 20,
          workerId: 'w2',
          lease: randomUUID(),
          leaseMs: 1000,
        });
        assert.ok(first && second);

        const counts = await store.countStates();
        assert.deepEqual(counts.jobs, await counted(store, 'jobs'));
        assert.deepEqual(counts.tasks, await counted(store, 'tasks'));
        assert.equal(counts.tasks.get(TaskState.Running), 2);

        const runs = await store.jobRuns(jobId, 100);
        const stored = await store.db
          .selectFrom('task_runs')
          .select(['task_id', 'worker_id', 'attempt', 'started_at'])
          .where('job_id', '=', jobId)
          .orderBy('started_at')
          .execute();
        assert.deepEqual(
          runs.map((r) => [r.task_id, r.worker_id, r.attempt, r.started_at, r.ended_at, r.kind, r.idx]),
          stored.map((s, i) => [s.task_id, s.worker_id, s.attempt, Number(s.started_at), null, 'encode', i]),
        );
        assert.equal(runs.length, 2);
        assert.equal(typeof runs[0]!.started_at, 'number', 'bigint times read as numbers');
        assert.deepEqual(
          (await store.jobRuns(jobId, 1)).map((r) => r.task_id),
          [first.id],
        );
        assert.deepEqual(await store.jobRuns(randomUUID(), 100), []);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });

    test('missingMigrations is empty after opening and names a migration whose record is gone', async () => {
      const db = await factory.create();
      const store = await openTaskStore(db.location);
      try {
        assert.deepEqual(await store.missingMigrations(), []);
        const { rows } = await sql<{ name: string }>`
          select name from kysely_migration order by name desc limit 1`.execute(store.db);
        const last = rows[0]!.name;
        await sql`delete from kysely_migration where name = ${last}`.execute(store.db);
        assert.deepEqual(await store.missingMigrations(), [last]);
      } finally {
        await store.close();
        await db.cleanup();
      }
    });
  });
}
