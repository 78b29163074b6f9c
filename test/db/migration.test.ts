// A database made by the first release (schema 0001) that holds jobs, opened by
// the current coordinator: the schema is brought up to date, the old rows read
// back right through the API, and an unfinished job runs to the end. The old
// schema is frozen below as that release created it, and the rows are written
// as its code wrote them (encode payloads and results then carried one piece and
// one segment in field 1, since replaced by repeated fields).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { create, type DescMessage, type MessageShape, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startCoordinator } from '../../src/coordinator/index.js';
import {
  EncodeJobSchema,
  EncodeTaskSchema,
  JobState,
  SplitResultSchema,
  TaskSchema,
} from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { PieceSchema, SegmentSchema, SourceInfoSchema } from '../../src/gen/avspl1t/v1/media_pb.js';
import type { ManifestOptions, OperationContext } from '../../src/media/index.js';
import { connectCoordinator } from '../../src/rpc/index.js';
import { Worker } from '../../src/worker/index.js';
import { waitForJob } from '../coordinator/harness.js';
import { encodeResult, sampleJob, splitResult } from '../fixtures/messages.js';
import { tmpDir } from '../helpers/tmp.js';
import { FakeOperations } from '../worker/fake-operations.js';
import { databaseFactories } from './databases.js';

/** Schema 0001 exactly as the first release's migration created it (`BLOB` is bytea on PostgreSQL). */
const SCHEMA_0001 = [
  'CREATE TABLE "kysely_migration" ("name" varchar(255) not null primary key, "timestamp" varchar(255) not null)',
  'CREATE TABLE "kysely_migration_lock" ("id" varchar(255) not null primary key, "is_locked" integer default 0 not null)',
  `INSERT INTO "kysely_migration_lock" VALUES ('migration_lock', 0)`,
  `INSERT INTO "kysely_migration" VALUES ('0001_initial', '2026-11-25T13:00:00.000Z')`,
  'CREATE TABLE "jobs" ("id" text primary key, "state" text not null, "details" BLOB not null, "source" BLOB, "result" BLOB, "failure_reason" text, "segments_total" integer default 0 not null, "segments_done" integer default 0 not null, "has_audio" integer default 0 not null, "audio_done" integer default 0 not null, "created_at" bigint not null, "updated_at" bigint not null, "finished_at" bigint)',
  'CREATE INDEX "jobs_created" on "jobs" ("created_at")',
  'CREATE TABLE "tasks" ("id" text primary key, "job_id" text not null references "jobs" ("id") on delete cascade, "kind" text not null, "idx" integer not null, "ord" integer not null, "job_created_at" bigint not null, "state" text not null, "payload" BLOB not null, "result" BLOB, "attempts" integer default 0 not null, "max_attempts" integer not null, "lease" text, "lease_owner" text, "lease_expires_at" bigint, "run_after" bigint not null, "last_error" text, "progress" double precision default 0 not null, "created_at" bigint not null, "updated_at" bigint not null, "finished_at" bigint)',
  'CREATE INDEX "tasks_claim" on "tasks" ("state", "job_created_at", "job_id", "ord")',
  'CREATE INDEX "tasks_lease" on "tasks" ("state", "lease_expires_at")',
  'CREATE INDEX "tasks_job" on "tasks" ("job_id", "ord")',
  'CREATE TABLE "task_runs" ("lease" text primary key, "task_id" text not null references "tasks" ("id") on delete cascade, "job_id" text not null, "attempt" integer not null, "worker_id" text not null, "started_at" bigint not null, "ended_at" bigint, "outcome" text, "error" text)',
  'CREATE INDEX "task_runs_task" on "task_runs" ("task_id")',
  'CREATE INDEX "task_runs_job" on "task_runs" ("job_id")',
  'CREATE TABLE "workers" ("id" text primary key, "first_seen_at" bigint not null, "last_seen_at" bigint not null, "claims" integer default 0 not null)',
];

/** Runs statements with `?` parameters on a SQLite file or a postgres:// URL. */
async function execAll(location: string, statements: Array<[string, unknown[]]>): Promise<void> {
  if (!location.startsWith('postgres')) {
    const db = new Database(location);
    try {
      for (const [text, values] of statements)
        db.prepare(text.replace(/BLOB/g, 'blob')).run(
          ...values.map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v)),
        );
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    for (const [text, values] of statements) {
      let n = 0;
      await client.query(
        text.replace(/BLOB/g, 'bytea').replace(/\?/g, () => `$${++n}`),
        values,
      );
    }
  } finally {
    await client.end();
  }
}

async function query<T>(location: string, text: string): Promise<T[]> {
  if (!location.startsWith('postgres')) {
    const db = new Database(location, { readonly: true });
    try {
      return db.prepare(text).all() as T[];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/** `message` with `extra` (already framed fields) appended: how the old code's extra field 1 looked. */
function withField1<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
  field1: Uint8Array,
): Uint8Array {
  const w = new BinaryWriter();
  w.raw(toBinary(schema, message));
  w.tag(1, WireType.LengthDelimited).bytes(field1);
  return w.finish();
}

/** A Task payload with only `encode` set, written by the first release: EncodeTask.piece = 1. */
function oldEncodePayload(
  piece: MessageShape<typeof PieceSchema>,
  job: ReturnType<typeof sampleJob>,
  source: MessageShape<typeof SourceInfoSchema>,
) {
  const encodeTask = withField1(
    EncodeTaskSchema,
    create(EncodeTaskSchema, { source, output: job.output, settings: job.settings }),
    toBinary(PieceSchema, piece),
  );
  const field = TaskSchema.fields.find((f) => f.localName === 'encode')!.number;
  const w = new BinaryWriter();
  w.tag(field, WireType.LengthDelimited).bytes(encodeTask);
  return w.finish();
}

/** An EncodeResult written by the first release: EncodeResult.segment = 1. */
function oldEncodeResult(index: number): Uint8Array {
  const segment = encodeResult(index).segments[0]!;
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).bytes(toBinary(SegmentSchema, segment));
  return w.finish();
}

function taskRow(o: {
  jobId: string;
  jobCreated: number;
  kind: string;
  idx: number;
  ord: number;
  state: string;
  payload: Uint8Array;
  result?: Uint8Array | null;
  attempts?: number;
  lastError?: string | null;
  now: number;
}): [string, unknown[]] {
  const done = o.state === 'succeeded' || o.state === 'failed';
  return [
    'INSERT INTO tasks (id, job_id, kind, idx, ord, job_created_at, state, payload, result, attempts, max_attempts, lease, lease_owner, lease_expires_at, run_after, last_error, progress, created_at, updated_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3, NULL, ?, NULL, ?, ?, ?, ?, ?, ?)',
    [
      randomUUID(),
      o.jobId,
      o.kind,
      o.idx,
      o.ord,
      o.jobCreated,
      o.state,
      o.payload,
      o.result ?? null,
      o.attempts ?? (o.state === 'queued' ? 0 : 1),
      o.state === 'queued' ? null : 'old-worker',
      o.now,
      o.lastError ?? null,
      done ? 1 : 0,
      o.now,
      o.now,
      done ? o.now : null,
    ],
  ];
}

/** Fake operations that also keep what each manifest task was given. */
class RecordingOperations extends FakeOperations {
  readonly manifests: ManifestOptions[] = [];
  override async manifest(opts: ManifestOptions, ctx: OperationContext) {
    this.manifests.push(opts);
    return super.manifest(opts, ctx);
  }
}

for (const factory of databaseFactories()) {
  describe(`migration from schema 0001 on ${factory.name}`, () => {
    after(() => factory.teardown());

    test('a database of the first release with jobs in it is migrated; its jobs read back and an unfinished one completes', async () => {
      const db = await factory.create();
      const dir = await tmpDir('avspl1t-migration-');
      const now = Date.now() - 60_000;
      const job = sampleJob(dir.path);
      const outputPath = (job.output!.location.value as { path: string }).path;
      const split = splitResult(3);
      const source = split.source!;

      // A job that failed for good, and one in the middle of its encodes: split done,
      // encode 0 done, encodes 1 and 2 waiting.
      const failedId = randomUUID();
      const runningId = randomUUID();
      const splitPayload = toBinary(
        TaskSchema,
        create(TaskSchema, {
          kind: { case: 'split', value: { input: job.input, working: job.working, secondsPerSegment: 2 } },
        }),
      );
      const jobRow = (id: string, state: string, created: number, extra: unknown[]): [string, unknown[]] => [
        'INSERT INTO jobs (id, state, details, source, result, failure_reason, segments_total, segments_done, has_audio, audio_done, created_at, updated_at, finished_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, 0, 0, ?, ?, ?)',
        [id, state, toBinary(EncodeJobSchema, job), ...extra.slice(0, 4), created, created, extra[4]],
      ];
      await execAll(db.location, [
        ...SCHEMA_0001.map((s): [string, unknown[]] => [s, []]),
        jobRow(failedId, 'failed', now, [
          null,
          'split failed (after 3 attempts): no video stream',
          0,
          0,
          now + 5,
        ]),
        taskRow({
          jobId: failedId,
          jobCreated: now,
          kind: 'split',
          idx: 0,
          ord: 0,
          state: 'failed',
          payload: splitPayload,
          attempts: 3,
          lastError: 'no video stream',
          now,
        }),
        jobRow(runningId, 'running', now + 10, [toBinary(SourceInfoSchema, source), null, 3, 1, null]),
        taskRow({
          jobId: runningId,
          jobCreated: now + 10,
          kind: 'split',
          idx: 0,
          ord: 0,
          state: 'succeeded',
          payload: splitPayload,
          result: toBinary(SplitResultSchema, split),
          now,
        }),
        ...split.pieces.map((piece) =>
          taskRow({
            jobId: runningId,
            jobCreated: now + 10,
            kind: 'encode',
            idx: piece.index,
            ord: piece.index + 1,
            state: piece.index === 0 ? 'succeeded' : 'queued',
            payload: oldEncodePayload(piece, job, source),
            result: piece.index === 0 ? oldEncodeResult(0) : null,
            now,
          }),
        ),
      ]);

      const running = await startCoordinator({ listen: '127.0.0.1:0', db: db.location, pollIntervalMs: 50 });
      const h = connectCoordinator(running.address);
      const ops = new RecordingOperations();
      let worker: Worker | undefined;
      try {
        // The schema is current: every migration the code knows is recorded.
        const applied = await query<{ name: string }>(
          db.location,
          'SELECT name FROM kysely_migration ORDER BY name',
        );
        assert.deepEqual(
          applied.map((r) => r.name),
          [
            '0001_initial',
            '0002_partial_task_indexes',
            '0003_output_owners',
            '0004_repeated_pieces_and_segments',
            '0005_worker_profiles',
          ],
        );

        const failed = (await h.client.getJob({ jobId: failedId })).job!;
        assert.equal(failed.state, JobState.FAILED);
        assert.equal(failed.failureReason, 'split failed (after 3 attempts): no video stream');
        assert.deepEqual(
          failed.tasks.map((t) => [t.kind, t.attempts, t.lastError]),
          [['split', 3, 'no video stream']],
        );
        const before = (await h.client.getJob({ jobId: runningId })).job!;
        assert.equal(before.state, JobState.RUNNING);
        assert.equal(before.segmentsTotal, 3);
        assert.equal(before.segmentsDone, 1);

        worker = await Worker.start({
          coordinator: running.address,
          operations: ops,
          tmpRoot: path.join(dir.path, 'tmp'),
          heartbeatMs: 50,
          pollWaitMs: 500,
        });
        const done = await waitForJob(h.client, runningId, 20_000);
        assert.equal(done.state, JobState.SUCCEEDED, done.failureReason);
        assert.deepEqual(
          ops.calls.map((c) => `${c.kind} ${c.index}`),
          ['encode 1', 'encode 2', 'manifest 0'],
          'only the waiting encodes ran, then the manifest',
        );
        assert.deepEqual(
          ops.manifests[0]!.segments.map((s) => [s.index, s.file?.location.value?.path]),
          [0, 1, 2].map((i) => [i, i === 0 ? '/data/out/seg-0.m4s' : path.join(outputPath, `seg-${i}.m4s`)]),
          'the manifest lists the old encode result and the new ones',
        );
      } finally {
        await worker?.stop();
        h.close();
        await running.close();
        await db.cleanup();
        await dir.cleanup();
      }
    });
  });
}
