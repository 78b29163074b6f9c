// Which encode tasks run at full width (the `tail` flag: the encoder takes every core
// instead of one thread per slot). Full width pays only where slots would otherwise be
// idle; encoders that start together at full width oversubscribe the cores for their
// whole run (on the short bench clip ~10 % more encoder CPU, bench/REPORT.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ladderEncodeTasks } from '../../../src/coordinator/ladder-tasks.js';
import {
  type Piece,
  PieceSchema,
  RenditionSchema,
  SourceInfoSchema,
} from '../../../src/gen/avspl1t/v1/media_pb.js';
import { normalizeSettings } from '../../../src/media/settings.js';
import { folderAt } from '../../../src/storage/index.js';

const settings = normalizeSettings({ encoder: 'svt', crf: 30, preset: 10 });
const single = [create(RenditionSchema, { name: '', settings, width: 640, height: 360 })];
const source = create(SourceInfoSchema, { width: 640, height: 360 });

/** `bytes.length` pieces of 60 frames whose coded sizes are `bytes`. */
function piecesOf(bytes: number[]): Piece[] {
  return bytes.map((b, i) =>
    create(PieceSchema, {
      index: i,
      framePts: Array.from({ length: 60 }, (_, k) => i * 60 + k),
      inSource: true,
      sourceBytes: b,
    }),
  );
}

/** Each task's first piece and tail flag, in the order the tasks are handed out. */
function tails(pieces: Piece[], parallelism: number): string[] {
  return ladderEncodeTasks(pieces, single, source, folderAt('/out'), parallelism)
    .sort((a, b) => a.rank - b.rank)
    .map((t) => `${t.task.pieces![0]!.index}:${t.task.tail}`);
}

describe('tail (full-width) encode tasks', () => {
  it('as many tasks as slots start together: none runs at full width', () => {
    // The short bench clip's plan on 2 slots: two runs (segments 0-2 and 3-6).
    const plan = tails(piecesOf([300, 260, 280, 290, 310, 270, 80]), 2);
    assert.equal(plan.length, 2);
    assert.deepEqual(
      plan.map((t) => t.endsWith(':true')),
      [false, false],
    );
  });

  it('fewer tasks than slots: each runs at full width (the other slots would stay idle)', () => {
    assert.deepEqual(tails(piecesOf([300]), 2), ['0:true']);
  });

  it('more tasks than slots: the last ones to start, as the others end, run at full width', () => {
    const plan = tails(
      piecesOf([500, 830, 800, 670, 990, 490, 810, 730, 690, 1340, 510, 1680, 1310, 950, 2710]),
      2,
    );
    assert.ok(plan.length > 2, plan.join(' '));
    assert.deepEqual(
      plan.map((t) => t.endsWith(':true')),
      plan.map((_, i) => i >= plan.length - 2),
    );
  });
});
