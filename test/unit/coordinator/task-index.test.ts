// The one formula for a ladder job's encode task index (src/coordinator/task-index.ts):
// every (rung, piece) round-trips through it in both task layouts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeTaskIdx, encodeTaskPlace } from '../../../src/coordinator/task-index.js';

test('every (rung, first piece) of a one-rung-per-task job round-trips through its idx, and the idxs tile 0 .. rungs × pieces', () => {
  for (let rungs = 1; rungs <= 6; rungs++)
    for (let pieces = 1; pieces <= 9; pieces++) {
      const seen = new Set<number>();
      for (let rung = 0; rung < rungs; rung++)
        for (let piece = 0; piece < pieces; piece++) {
          const idx = encodeTaskIdx({ rung, piece }, rungs, pieces);
          assert.deepEqual(encodeTaskPlace(idx, rungs, pieces, false), { rung, piece }, `${rungs}x${pieces}`);
          seen.add(idx);
        }
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        [...Array(rungs * pieces).keys()],
      );
    }
});

test('every first piece of a job whose tasks cover every rung round-trips through its idx, one idx per rung × piece apart', () => {
  for (let rungs = 2; rungs <= 6; rungs++)
    for (let pieces = 1; pieces <= 9; pieces++)
      for (let piece = 0; piece < pieces; piece++) {
        const idx = encodeTaskIdx({ rung: -1, piece }, rungs, pieces);
        assert.equal(idx, piece * rungs, 'a task of every rung spans `rungs` idxs per piece');
        assert.deepEqual(encodeTaskPlace(idx, rungs, pieces, true), { rung: -1, piece });
      }
});

test('a single rendition reads as rung 0 whatever the layout flag says', () => {
  assert.deepEqual(encodeTaskPlace(3, 1, 5, true), { rung: 0, piece: 3 });
  assert.deepEqual(encodeTaskPlace(3, 1, 5, false), { rung: 0, piece: 3 });
});
