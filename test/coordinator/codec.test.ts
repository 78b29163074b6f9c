// The Task a worker receives, built two ways: decoded from the stored payload
// (taskMessage, the Connect path) and spliced from it without decoding
// (taskBytes, the lean gRPC path). Both must say the same on the wire.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import {
  embedded,
  encodePayload,
  encodePieces,
  scanPayload,
  type TaskKindInit,
  taskBytes,
  taskMessage,
} from '../../src/coordinator/codec.js';
import { FinishTaskResponseSchema, TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { orderedId } from '../../src/db/ids.js';
import { TaskKind, type TaskRow, TaskState } from '../../src/db/index.js';
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

test('the spliced Task decodes to the same message as the decoded one, for every kind', () => {
  for (const [kind, init] of kinds) {
    const r = row(kind, encodePayload(init));
    const decoded = taskMessage(r, LEASE_MS);
    const spliced = fromBinary(TaskSchema, taskBytes(r, LEASE_MS));
    assert.ok(equals(TaskSchema, spliced, decoded), `${kind}: spliced and decoded Tasks differ`);
    assert.equal(spliced.id, r.id);
    assert.equal(spliced.lease, r.lease);
    assert.equal(spliced.attempt, 2);
    assert.equal(spliced.createdAtMs, 1_900_000_000_123n);
    assert.equal(spliced.heartbeatIntervalMs, 5000);
    assert.ok(spliced.timeoutSeconds > 0, `${kind}: a timeout`);
    assert.equal(spliced.kind.case, init!.case);
  }
});

test('a payload stored before it held the timeout gets the same timeout when spliced', () => {
  const [, init] = kinds[1]!;
  const legacy = toBinary(TaskSchema, create(TaskSchema, { kind: init }));
  assert.equal(scanPayload(legacy).hasTimeout, false);
  assert.equal(scanPayload(encodePayload(init)).hasTimeout, true);
  const r = row(TaskKind.Encode, legacy);
  const spliced = fromBinary(TaskSchema, taskBytes(r, LEASE_MS));
  // 900 s + 600 s per second of media: 3 pieces of 2 s.
  assert.equal(spliced.timeoutSeconds, 900 + 600 * 6);
  assert.ok(equals(TaskSchema, spliced, taskMessage(r, LEASE_MS)));
});

test("an encode's piece indices are read from its payload without decoding it, and remembered from its claim", () => {
  const [, init] = kinds[1]!;
  const payload = encodePayload(init);
  assert.deepEqual(scanPayload(payload).pieces, [3, 4, 5]);
  assert.equal(scanPayload(encodePayload(kinds[0]![1])).pieces, undefined);
  // Claimed (spliced) here: the finish's check uses what the claim read.
  const r = row(TaskKind.Encode, payload);
  taskBytes(r, LEASE_MS);
  assert.deepEqual(encodePieces({ id: r.id, payload: new Uint8Array(0) }), [3, 4, 5]);
  // Once used it is forgotten; then the payload is read.
  assert.deepEqual(encodePieces({ id: r.id, payload }), [3, 4, 5]);
  assert.deepEqual(encodePieces({ id: r.id, payload: new Uint8Array(0) }), []);
});

test('a response with an embedded task decodes as the message with that task', () => {
  const [kind, init] = kinds[1]!;
  const r = row(kind, encodePayload(init));
  const head = toBinary(FinishTaskResponseSchema, create(FinishTaskResponseSchema, { accepted: true }));
  const tail = embedded(FinishTaskResponseSchema.field.next!.number, taskBytes(r, LEASE_MS));
  const res = fromBinary(FinishTaskResponseSchema, new Uint8Array([...head, ...tail]));
  assert.equal(res.accepted, true);
  assert.ok(equals(TaskSchema, res.next!, taskMessage(r, LEASE_MS)));
});

test('an embedded field reads back with its number and bytes, for short and long tags and lengths', () => {
  for (const number of [1, 2, 15, 16, 100, 5000])
    for (const length of [0, 5, 127, 128, 200, 16_383, 16_384, 20_000]) {
      const message = Uint8Array.from({ length }, (_, i) => (i * 7) % 256);
      const prefix = new Uint8Array([0x08, 0x01]);
      const out = embedded(number, message, prefix);
      const reader = new BinaryReader(out);
      assert.deepEqual(reader.tag(), [1, WireType.Varint]);
      assert.equal(reader.bool(), true);
      assert.deepEqual(reader.tag(), [number, WireType.LengthDelimited]);
      assert.deepEqual(reader.bytes(), message);
      assert.equal(reader.pos, out.length, `field ${number}, ${length} bytes: nothing after`);
    }
});
