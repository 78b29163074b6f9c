// Schema migrations, written once for both dialects (only the binary column type
// differs). Append new migrations; never edit one that has shipped.
import { type Kysely, sql } from 'kysely';
import { type Migration, Migrator } from 'kysely/migration';
import type { SqlDialect } from './dialect.js';
import { TaskState } from './states.js';

function initial(dialect: SqlDialect): Migration {
  const blob = dialect.blobType;
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('details', blob, (c) => c.notNull())
        .addColumn('source', blob)
        .addColumn('result', blob)
        .addColumn('failure_reason', 'text')
        .addColumn('segments_total', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('segments_done', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('has_audio', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('audio_done', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema.createIndex('jobs_created').on('jobs').columns(['created_at']).execute();

      await db.schema
        .createTable('tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('ord', 'integer', (c) => c.notNull())
        .addColumn('job_created_at', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('payload', blob, (c) => c.notNull())
        .addColumn('result', blob)
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('lease', 'text')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires_at', 'bigint')
        .addColumn('run_after', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('progress', 'double precision', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .execute();
      // The claim's ORDER BY, so the next task is the first index entry with state = 'queued'.
      await db.schema
        .createIndex('tasks_claim')
        .on('tasks')
        .columns(['state', 'job_created_at', 'job_id', 'ord'])
        .execute();
      await db.schema.createIndex('tasks_lease').on('tasks').columns(['state', 'lease_expires_at']).execute();
      await db.schema.createIndex('tasks_job').on('tasks').columns(['job_id', 'ord']).execute();

      await db.schema
        .createTable('task_runs')
        .addColumn('lease', 'text', (c) => c.primaryKey())
        .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('worker_id', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addColumn('outcome', 'text')
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('task_runs_task').on('task_runs').columns(['task_id']).execute();
      await db.schema.createIndex('task_runs_job').on('task_runs').columns(['job_id']).execute();

      await db.schema
        .createTable('workers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('claims', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  };
}

/**
 * The claim and lease indexes hold only the tasks they serve (queued; running),
 * not every task a database ever had: a claim moves a task from one to the other
 * and a finish takes it out, one index entry each instead of a delete and an
 * insert in both. Queries using them name the state as a literal (the planner
 * must see that it matches).
 */
const partialIndexes: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('tasks_claim').execute();
    await db.schema.dropIndex('tasks_lease').execute();
    await db.schema
      .createIndex('tasks_claim')
      .on('tasks')
      .columns(['job_created_at', 'job_id', 'ord'])
      .where(sql.ref('state'), '=', sql.lit(TaskState.Queued))
      .execute();
    await db.schema
      .createIndex('tasks_lease')
      .on('tasks')
      .columns(['lease_expires_at'])
      .where(sql.ref('state'), '=', sql.lit(TaskState.Running))
      .execute();
  },
};

/** Which job owns each output location, so a second job cannot write into it unasked. */
const outputOwners: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('outputs')
      .addColumn('location', 'text', (c) => c.primaryKey())
      .addColumn('job_id', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

/** The migrations in order, keyed by name (names sort in order). */
export function migrations(dialect: SqlDialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_partial_task_indexes': partialIndexes,
    '0003_output_owners': outputOwners,
  };
}

/** Brings the schema up to date; safe to run from several coordinators at once. Throws the driver's error. */
export async function migrate(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations(dialect) } });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}
