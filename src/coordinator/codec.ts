// Task payloads and results as stored in the database (binary protobuf), and the
// Task message handed to a worker. The `kind` column says which schema a blob has.
import { create, fromBinary, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { ClaimedRow, TaskRow } from '../db/index.js';
import { TaskKind } from '../db/states.js';
import {
  AudioResultSchema,
  EncodeResultSchema,
  EncodeRungSchema,
  EncodeTaskSchema,
  type FinishTaskRequest,
  ManifestResultSchema,
  SplitResultSchema,
  type Task,
  TaskSchema,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import { PieceSchema } from '../gen/avspl1t/v1/media_pb.js';
import { timeoutSeconds } from './timeouts.js';

export type TaskKindInit = MessageInitShape<typeof TaskSchema>['kind'];

/**
 * The payload blob: a Task message with its kind and its timeout set (payloads
 * stored by earlier versions hold only the kind; `taskMessage` sets it).
 */
export function encodePayload(kind: TaskKindInit): Uint8Array {
  const task = create(TaskSchema, { kind });
  task.timeoutSeconds = timeoutSeconds(task);
  return toBinary(TaskSchema, task);
}

/** How often a worker must heartbeat: three times per lease (within the field's uint32). */
function heartbeatIntervalMs(leaseMs: number): number {
  return Math.min(2 ** 32 - 1, Math.max(100, Math.floor(leaseMs / 3)));
}

const TIMEOUT_FIELD = TaskSchema.field.timeoutSeconds!.number;
const ENCODE_FIELD = TaskSchema.field.encode!.number;
const PIECES_FIELD = EncodeTaskSchema.field.pieces!.number;
const INDEX_FIELD = PieceSchema.field.index!.number;
const RUNGS_FIELD = EncodeTaskSchema.field.rungs!.number;
const RUNG_INDEX_FIELD = EncodeRungSchema.field.renditionIndex!.number;

/** The uint32 field `want` of the message `bytes` (0 when absent, as protobuf defaults). */
function uint32Field(bytes: Uint8Array, want: number): number {
  const msg = new BinaryReader(bytes);
  let value = 0;
  while (msg.pos < msg.len) {
    const [f, t] = msg.tag();
    if (f === want && t === WireType.Varint) value = msg.uint32();
    else msg.skip(t, f);
  }
  return value;
}

/**
 * What a payload says without decoding all of it (an encode's pieces carry
 * every frame's timestamp): whether it holds the timeout, an encode's piece
 * indices and, for a task of several rungs, their rendition indexes (every
 * encode's finish checks its segments against them). Reads the wire format with
 * protobuf-es's reader.
 */
export function scanPayload(payload: Uint8Array): {
  hasTimeout: boolean;
  pieces?: number[];
  rungs?: number[];
} {
  const out: { hasTimeout: boolean; pieces?: number[]; rungs?: number[] } = { hasTimeout: false };
  const task = new BinaryReader(payload);
  while (task.pos < task.len) {
    const [field, type] = task.tag();
    if (field === TIMEOUT_FIELD) out.hasTimeout = true;
    if (field !== ENCODE_FIELD || type !== WireType.LengthDelimited) {
      task.skip(type, field);
      continue;
    }
    const encode = new BinaryReader(task.bytes());
    out.pieces = [];
    const rungs: number[] = [];
    while (encode.pos < encode.len) {
      const [f, t] = encode.tag();
      if (f === PIECES_FIELD && t === WireType.LengthDelimited)
        out.pieces.push(uint32Field(encode.bytes(), INDEX_FIELD));
      else if (f === RUNGS_FIELD && t === WireType.LengthDelimited)
        rungs.push(uint32Field(encode.bytes(), RUNG_INDEX_FIELD));
      else encode.skip(t, f);
    }
    if (rungs.length > 0) out.rungs = rungs;
  }
  return out;
}

/** The Task a worker receives for a claimed row (heartbeats due three times per lease). */
export function taskMessage(row: ClaimedRow, leaseMs: number): Task {
  const task = fromBinary(TaskSchema, row.payload);
  task.id = row.id;
  task.jobId = row.job_id;
  task.lease = row.lease ?? '';
  task.createdAtMs = BigInt(row.created_at);
  task.attempt = row.attempts;
  task.timeoutSeconds = timeoutSeconds(task);
  task.heartbeatIntervalMs = heartbeatIntervalMs(leaseMs);
  return task;
}

export type FinishResult = FinishTaskRequest['result'];
/** A finish's result when it is a success (not a failure). */
export type SuccessResult = Exclude<FinishResult, { case: 'failure' } | { case: undefined }>;

/** The result blob of a successful finish. */
export function encodeResult(result: SuccessResult): Uint8Array {
  switch (result.case) {
    case 'split':
      return toBinary(SplitResultSchema, result.value);
    case 'encode':
      return toBinary(EncodeResultSchema, result.value);
    case 'audio':
      return toBinary(AudioResultSchema, result.value);
    case 'manifest':
      return toBinary(ManifestResultSchema, result.value);
  }
}

export const decodeSplit = (b: Uint8Array) => fromBinary(SplitResultSchema, b);
export const decodeEncode = (b: Uint8Array) => fromBinary(EncodeResultSchema, b);
export const decodeAudio = (b: Uint8Array) => fromBinary(AudioResultSchema, b);
export const decodeManifest = (b: Uint8Array) => fromBinary(ManifestResultSchema, b);

/** A short name of a task for log lines: "encode 12" (its first segment), "split". */
export function taskName(row: Pick<TaskRow, 'kind' | 'idx'>): string {
  return row.kind === TaskKind.Encode ? `encode ${row.idx}` : row.kind;
}

/**
 * The name of a task in messages for users (failure reasons): an encode of
 * several segments names them all, "encode 8-11" (its payload is decoded, so
 * this is for rare events, not every claim).
 */
export function taskTitle(row: Pick<TaskRow, 'kind' | 'idx' | 'payload'>): string {
  if (row.kind !== TaskKind.Encode) return row.kind;
  const kind = fromBinary(TaskSchema, row.payload).kind;
  const pieces = kind.case === 'encode' ? kind.value.pieces : [];
  // A rung of a ladder: its name, and the pieces' own indexes (idx counts across rungs).
  const one = kind.case === 'encode' ? kind.value.rendition?.name : undefined;
  const several = kind.case === 'encode' && kind.value.rungs.length > 0;
  const rung = several ? ' all rungs' : one ? ` ${one}` : '';
  const first = pieces[0]?.index ?? row.idx;
  const last = pieces[pieces.length - 1]?.index ?? first;
  return last > first ? `encode${rung} ${first}-${last}` : `encode${rung} ${first}`;
}
