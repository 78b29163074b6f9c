// Schema migrations, written once for both dialects (only the binary column type
// differs). Append new migrations; never edit one that has shipped.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { type Kysely, sql } from 'kysely';
import { type Migration, Migrator } from 'kysely/migration';
import { EncodeResultSchema, TaskSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import { PieceSchema, SegmentSchema } from '../gen/avspl1t/v1/media_pb.js';
import { TaskState } from './states.js';

/** The one thing migrations need to know of a database: its binary column type. */
export interface MigrationDialect {
  blobType: 'blob' | 'bytea';
}

function initial(dialect: MigrationDialect): Migration {
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

/** The content of each length-delimited unknown field 1 of `message` (a field number since reserved). */
function oldField1(message: { $unknown?: { no: number; data: Uint8Array }[] }): Uint8Array[] {
  return (message.$unknown ?? []).filter((f) => f.no === 1).map((f) => new BinaryReader(f.data).bytes());
}

/**
 * The first release stored an encode task's one piece in EncodeTask field 1 and
 * its one segment in EncodeResult field 1; the code reads the repeated fields
 * that replaced them (`pieces`, `segments`). Rewrites encode rows still in the
 * old form, so jobs running across the upgrade finish.
 */
const repeatedPiecesAndSegments: Migration = {
  async up(db: Kysely<unknown>) {
    const rows = await sql<{ id: string; payload: Uint8Array; result: Uint8Array | null }>`
      SELECT id, payload, result FROM tasks WHERE kind = 'encode'`.execute(db);
    for (const row of rows.rows) {
      const task = fromBinary(TaskSchema, row.payload);
      if (task.kind.case !== 'encode') continue;
      const encode = task.kind.value;
      const pieces = oldField1(encode);
      let payload: Uint8Array | undefined;
      if (pieces.length > 0 && encode.pieces.length === 0) {
        encode.pieces = pieces.map((b) => fromBinary(PieceSchema, b));
        encode.$unknown = encode.$unknown?.filter((f) => f.no !== 1);
        payload = toBinary(TaskSchema, task);
      }
      let result: Uint8Array | undefined;
      if (row.result) {
        const decoded = fromBinary(EncodeResultSchema, row.result);
        const segments = oldField1(decoded);
        if (segments.length > 0 && decoded.segments.length === 0) {
          decoded.segments = segments.map((b) => fromBinary(SegmentSchema, b));
          decoded.$unknown = decoded.$unknown?.filter((f) => f.no !== 1);
          result = toBinary(EncodeResultSchema, decoded);
        }
      }
      if (!payload && !result) continue;
      await sql`UPDATE tasks SET payload = ${Buffer.from(payload ?? row.payload)},
        result = ${row.result ? Buffer.from(result ?? row.result) : null} WHERE id = ${row.id}`.execute(db);
    }
  },
};

/** What workers say about themselves on GetTask, for `avspl1t workers` ('' and 0 = not reported). */
const workerProfiles: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('workers')
      .addColumn('host', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema
      .alterTable('workers')
      .addColumn('slots', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};

/** The migrations in order, keyed by name (names sort in order). */
export function migrations(dialect: MigrationDialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_partial_task_indexes': partialIndexes,
    '0003_output_owners': outputOwners,
    '0004_repeated_pieces_and_segments': repeatedPiecesAndSegments,
    '0005_worker_profiles': workerProfiles,
  };
}

/** Brings the schema up to date; safe to run from several coordinators at once. Throws the driver's error. */
export async function migrate(db: Kysely<unknown>, dialect: MigrationDialect): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations(dialect) } });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

/** Names of the migrations not yet applied to `db` (reads Kysely's bookkeeping; changes nothing). */
export async function pendingMigrations(db: Kysely<unknown>, dialect: MigrationDialect): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations(dialect) } });
  return (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}
