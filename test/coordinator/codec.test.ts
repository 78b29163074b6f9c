// The Task a worker receives, built from the stored payload and the claim
// (taskMessage), and the payload scan a finish uses for an encode's pieces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { encodePayload, scanPayload, type TaskKindInit, taskMessage } from '../../src/coordinator/codec.js';
import { orderedId } from '../../src/db/ids.js';
import { TaskKind, type TaskRow, TaskState } from '../../src/db/index.js';
import { TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { splitResult } from '../fixtures/messages.js';

const LEASE_MS = 15_000;

function row(kind: TaskKind, payload: Uint8Array): TaskRow {
  return {
    id: orderedId(),
    job_id: orderedId(),
    kind,
    idx: 3,
    ord: 4,
    job_created_at: 1_900_000_000_000,
    state: TaskState.Running,
    payload,
    result: null,
    attempts: 2,
    max_attempts: 3,
    lease: orderedId(),
    lease_owner: 'w1',
    lease_expires_at: 1_900_000_015_000,
    run_after: 1_900_000_000_000,
    last_error: null,
    progress: 0,
    created_at: 1_900_000_000_123,
    updated_at: 1_900_000_000_123,
    finished_at: null,
  };
}

const split = splitResult(6);
const source = split.source!;
// Pieces 3-5 with every frame's timestamp, as a real split reports them.
const pieces = split.pieces.slice(3).map((p) => ({
  ...p,
  framePts: Array.from({ length: 60 }, (_, f) => p.start + f * 33.3),
}));
const kinds: [TaskKind, TaskKindInit][] = [
  [
    TaskKind.Split,
    {
      case: 'split',
      value: { input: fileAt('/data/in.mp4'), working: folderAt('/w'), secondsPerSegment: 2 },
    },
  ],
  [
    TaskKind.Encode,
    {
      case: 'encode',
      value: {
        pieces,
        source,
        output: folderAt('/data/out'),
        settings: { encoder: 'svt', crf: 30, preset: 8 },
        tail: true,
      },
    },
  ],
  [
    TaskKind.Audio,
    {
      case: 'audio',
      value: { input: fileAt('/data/in.mp4'), source, output: folderAt('/data/out'), secondsPerSegment: 2 },
    },
  ],
  [TaskKind.Manifest, { case: 'manifest', value: { output: folderAt('/data/out') } }],
];

test('the Task for a claimed row carries the claim and the stored payload, for every kind', () => {
  for (const [kind, init] of kinds) {
    const r = row(kind, encodePayload(init));
    const task = fromBinary(TaskSchema, toBinary(TaskSchema, taskMessage(r, LEASE_MS)));
    const payload = fromBinary(TaskSchema, r.payload);
    assert.ok(
      equals(TaskSchema, create(TaskSchema, { kind: task.kind }), create(TaskSchema, { kind: payload.kind })),
    );
    assert.equal(task.id, r.id);
    assert.equal(task.jobId, r.job_id);
    assert.equal(task.lease, r.lease);
    assert.equal(task.attempt, 2);
    assert.equal(task.createdAtMs, 1_900_000_000_123n);
    assert.equal(task.heartbeatIntervalMs, 5000);
    assert.equal(task.timeoutSeconds, payload.timeoutSeconds, `${kind}: the stored timeout`);
    assert.ok(task.timeoutSeconds > 0, `${kind}: a timeout`);
    assert.equal(task.kind.case, init!.case);
  }
});

test('a payload stored before it held the timeout gets its timeout when claimed', () => {
  const [, init] = kinds[1]!;
  const legacy = toBinary(TaskSchema, create(TaskSchema, { kind: init }));
  assert.equal(scanPayload(legacy).hasTimeout, false);
  assert.equal(scanPayload(encodePayload(init)).hasTimeout, true);
  const task = taskMessage(row(TaskKind.Encode, legacy), LEASE_MS);
  // 900 s + 600 s per second of media: 3 pieces of 2 s.
  assert.equal(task.timeoutSeconds, 900 + 600 * 6);
});

test("an encode's piece indices are read from its payload without decoding it", () => {
  const [, init] = kinds[1]!;
  const payload = encodePayload(init);
  assert.deepEqual(scanPayload(payload).pieces, [3, 4, 5]);
  assert.equal(scanPayload(encodePayload(kinds[0]![1])).pieces, undefined);
});
