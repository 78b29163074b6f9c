// How many encoder runs a ladder job's rungs are cut into: a task encodes every
// rung of its pieces, so the rungs are cut the same way, as a single rendition's
// pieces would be on the same slots.
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
      .filter((t) => (t.task.rungs ?? []).some((x) => x.renditionIndex === r) || t.task.renditionIndex === r)
      .map((t) => t.task.pieces!.map((p) => p.index))
      .sort((a, b) => a[0]! - b[0]!)
      .map((g) => g.length),
  );
}

describe('encoder runs of a ladder job', () => {
  it('the default 720p ladder on 2 slots: the tasks of every rung are cut as one rendition would be', () => {
    const tasks = ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), 2);
    assert.equal(ladder.length, 6);
    assert.deepEqual(runsPerRung(tasks), Array(6).fill(groupPieces(pieces, 2).map((g) => g.length)));
  });

  it('every rung has the same task boundaries, so the rungs share their key frames', () => {
    for (const parallelism of [1, 2, 4, 16]) {
      const per = runsPerRung(ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), parallelism));
      for (const sizes of per) assert.deepEqual(sizes, per[0], `parallelism ${parallelism}`);
      assert.equal(
        per[0]!.reduce((a, b) => a + b),
        pieces.length,
      );
    }
  });

  it('many slots: as many tasks as a single rendition gets (every rung in each), none longer than the costliest piece needs', () => {
    const tasks = ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), 16);
    assert.equal(tasks.length, groupPieces(pieces, 16).length);
    // The costliest piece alone bounds the job: no task is made longer than it.
    const bytes = (t: (typeof tasks)[number]) =>
      t.task.pieces!.reduce((a, p) => a + Number(p.sourceBytes), 0);
    const costliest = Math.max(...pieces.map((p) => p.sourceBytes));
    assert.ok(
      tasks.every((t) => bytes(t) <= costliest * 1.01),
      'no task costlier than the costliest piece',
    );
  });

  it('a run costs its start-up: one rendition keeps the single-rendition plan', () => {
    assert.ok(RUN_COST > 0);
    const one = ladderEncodeTasks(pieces, [ladder[0]!], source, folderAt('/out'), 2);
    assert.deepEqual(runsPerRung(one)[0], [8, 4, 2, 1]);
  });
});
