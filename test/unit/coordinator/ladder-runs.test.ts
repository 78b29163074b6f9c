// How many encoder runs a ladder job's rungs are cut into: every run pays the
// encoder's start-up, and a ladder's other rungs keep the slots busy, so each rung
// needs fewer, longer runs than a single rendition on the same slots.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ladderEncodeTasks } from '../../../src/coordinator/ladder-tasks.js';
import { groupPieces, RUN_COST } from '../../../src/coordinator/schedule-policy.js';
import { type Piece, PieceSchema, SourceInfoSchema } from '../../../src/gen/avspl1t/v1/media_pb.js';
import { defaultLadder } from '../../../src/media/ladder.js';
import { normalizeSettings } from '../../../src/media/settings.js';
import { folderAt } from '../../../src/storage/index.js';

const svt = normalizeSettings({ encoder: 'svt', crf: 30, preset: 8 });
// Coded bytes per 2 s segment of the ladder bench's 30 s 720p clip (its last scene is 3x the others).
const BYTES = [0.5, 0.83, 0.8, 0.67, 0.99, 0.49, 0.81, 0.73, 0.69, 1.34, 0.51, 1.68, 1.31, 0.95, 2.71];
const pieces: Piece[] = BYTES.map((b, i) =>
  create(PieceSchema, {
    index: i,
    framePts: Array.from({ length: 60 }, (_, k) => i * 60 + k),
    inSource: true,
    sourceBytes: Math.round(b * 1e6),
  }),
);
const source = create(SourceInfoSchema, { width: 1280, height: 720 });
const ladder = defaultLadder({ width: 1280, height: 720, fps: 30 }, svt);

/** Each rung's task sizes (segments per task), in timeline order. */
function runsPerRung(tasks: ReturnType<typeof ladderEncodeTasks>): number[][] {
  return ladder.map((_, r) =>
    tasks
      .filter((t) => t.task.renditionIndex === r)
      .map((t) => t.task.pieces!.map((p) => p.index))
      .sort((a, b) => a[0]! - b[0]!)
      .map((g) => g.length),
  );
}

describe('encoder runs of a ladder job', () => {
  it('the default 720p ladder on 2 slots: each rung in 2 runs (8 + 7 segments), not 4 as one rendition would be', () => {
    // A single rendition on 2 slots needs small runs at the end to keep both slots busy.
    assert.deepEqual(
      groupPieces(pieces, 2).map((g) => g.length),
      [8, 4, 2, 1],
    );
    const tasks = ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), 2);
    assert.equal(ladder.length, 6);
    assert.deepEqual(runsPerRung(tasks), Array(6).fill([8, 7]));
  });

  it('every rung still has the same task boundaries, so the rungs share their key frames', () => {
    for (const parallelism of [1, 2, 4, 16]) {
      const per = runsPerRung(ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), parallelism));
      for (const sizes of per) assert.deepEqual(sizes, per[0], `parallelism ${parallelism}`);
      assert.equal(
        per[0]!.reduce((a, b) => a + b),
        pieces.length,
      );
    }
  });

  it('many slots for few rungs: still small enough runs to keep the slots busy', () => {
    // 16 slots, 6 rungs: one run per rung would leave 10 slots idle.
    const tasks = ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), 16);
    assert.ok(tasks.length >= 16, `${tasks.length} tasks`);
  });

  it('a rung weighs its run cost like its frames: one rendition keeps the single-rendition plan', () => {
    assert.ok(RUN_COST > 0);
    const one = ladderEncodeTasks(pieces, [ladder[0]!], source, folderAt('/out'), 2);
    assert.deepEqual(runsPerRung(one)[0], [8, 4, 2, 1]);
  });
});
