// The plan of a ladder job puts every rung of a range of pieces in one encode
// task (one decode of the range for all rungs) when its tasks are sized for known
// slots or published in order; with the fleet unknown (parallelism 0) a task per
// rung and piece; a single rendition keeps its one-rung tasks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ladderEncodeTasks } from '../../../src/coordinator/ladder-tasks.js';
import { type Piece, PieceSchema, SourceInfoSchema } from '../../../src/gen/avspl1t/v1/media_pb.js';
import type { Folder } from '../../../src/gen/avspl1t/v1/storage_pb.js';
import { defaultLadder } from '../../../src/media/ladder.js';
import { normalizeSettings } from '../../../src/media/settings.js';
import { folderAt, describe as where } from '../../../src/storage/index.js';

const svt = normalizeSettings({ encoder: 'svt', crf: 30, preset: 8 });
const pieces: Piece[] = Array.from({ length: 15 }, (_, i) =>
  create(PieceSchema, {
    index: i,
    framePts: Array.from({ length: 60 }, (_, k) => i * 60 + k),
    inSource: true,
    sourceBytes: 1e6 + i * 1e4,
  }),
);
const source = create(SourceInfoSchema, { width: 1280, height: 720 });
const ladder = defaultLadder({ width: 1280, height: 720, fps: 30 }, svt);

describe('encode tasks of a ladder job cover every rung', () => {
  for (const [parallelism, timeline] of [
    [0, true],
    [2, false],
    [16, false],
  ] as const)
    it(`parallelism ${parallelism}${timeline ? ', progressive' : ''}: each task encodes all rungs of its range, each rung into its own folder`, () => {
      const tasks = ladderEncodeTasks(pieces, ladder, source, folderAt('/out/media'), parallelism, timeline);
      assert.equal(ladder.length, 6);
      const covered: number[] = [];
      for (const t of tasks) {
        const rungs = t.task.rungs ?? [];
        assert.deepEqual(
          rungs.map((r) => r.renditionIndex),
          [0, 1, 2, 3, 4, 5],
        );
        assert.deepEqual(
          rungs.map((r) => r.rendition?.name),
          ladder.map((r) => r.name),
        );
        assert.deepEqual(
          rungs.map((r) => where(r.output as Folder)),
          ladder.map((r) => where(folderAt(`/out/media/${r.name}`))),
        );
        // A worker that does not know `rungs` fails for want of an output instead of encoding one rung.
        assert.equal(t.task.output, undefined);
        assert.equal(t.task.rendition, undefined);
        const first = t.task.pieces![0]!.index ?? -1;
        assert.equal(t.idx, first * ladder.length, 'index = first piece × rungs');
        covered.push(...t.task.pieces!.map((p) => p.index ?? -1));
      }
      assert.deepEqual(
        covered.sort((a, b) => a - b),
        pieces.map((p) => p.index),
        'the tasks tile the pieces once',
      );
    });

  it('parallelism 0 (the fleet unknown): a task per rung and piece, costliest rung first, indexes rung × pieces + piece', () => {
    const tasks = ladderEncodeTasks(pieces, ladder, source, folderAt('/out/media'), 0);
    assert.equal(tasks.length, pieces.length * ladder.length);
    for (const t of tasks) {
      assert.equal(t.task.rungs, undefined);
      assert.equal(t.task.pieces!.length, 1);
      const r = t.task.renditionIndex!;
      assert.equal(t.task.rendition?.name, ladder[r]!.name);
      assert.equal(where(t.task.output as Folder), where(folderAt(`/out/media/${ladder[r]!.name}`)));
      assert.equal(t.idx, r * pieces.length + t.task.pieces![0]!.index!);
    }
    assert.deepEqual(
      tasks.map((t) => t.idx).sort((a, b) => a - b),
      Array.from({ length: pieces.length * ladder.length }, (_, i) => i),
      'the tasks tile rungs × pieces once',
    );
    // Costliest first: the first task handed out is the largest rung's busiest piece.
    const first = tasks.find((t) => t.rank === 0)!;
    const largest = Math.max(...ladder.map((r) => r.width * r.height));
    assert.equal((first.task.rendition?.width ?? 0) * (first.task.rendition?.height ?? 0), largest);
    assert.equal(first.task.pieces![0]!.index, pieces.length - 1, 'the piece with the most source bytes');
  });

  it('a single rendition keeps one-rung tasks (rendition, rendition_index, output)', () => {
    const tasks = ladderEncodeTasks(pieces, [ladder[0]!], source, folderAt('/out/media'), 2);
    for (const t of tasks) {
      assert.equal(t.task.rungs, undefined);
      assert.equal(t.task.rendition?.name, ladder[0]!.name);
      assert.equal(t.idx, t.task.pieces![0]!.index);
    }
  });
});
