// The scheduling policy: pieces grouped into encode tasks (encoder start-ups against
// idle slots) and the order the tasks are handed out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  groupPieces,
  longestFirst,
  MAX_SEGMENTS_PER_TASK,
} from '../../../src/coordinator/schedule-policy.js';

describe('groupPieces', () => {
  const piece = (frames: number, inSource = true, sourceBytes = 0) => ({
    inSource,
    framePts: Array.from({ length: frames }),
    sourceBytes,
  });
  const sizes = (groups: unknown[][]) => groups.map((g) => g.length);
  it('equal segments on 2 slots: one run per slot (each run costs an encoder start)', () => {
    const pieces = Array.from({ length: 15 }, () => piece(60));
    assert.deepEqual(sizes(groupPieces(pieces, 2)), [8, 7]);
    assert.deepEqual(sizes(groupPieces(pieces, 0)), Array(15).fill(1));
  });
  it('costly segments at the end: smaller tasks there, so the slots finish together', () => {
    // Coded bytes per segment of the bench's 30 s clip (its last scene is 3x the others).
    const bytes = [0.5, 0.83, 0.8, 0.67, 0.99, 0.49, 0.81, 0.73, 0.69, 1.34, 0.51, 1.68, 1.31, 0.95, 2.71];
    const pieces = bytes.map((b) => piece(60, true, Math.round(b * 1e6)));
    assert.deepEqual(sizes(groupPieces(pieces, 2)), [8, 4, 2, 1]);
    // More slots, smaller tasks; every piece once.
    const four = sizes(groupPieces(pieces, 4));
    assert.ok(four.length > 4 && Math.max(...four) < 8, String(four));
    assert.equal(
      four.reduce((a, b) => a + b),
      15,
    );
  });
  it('a short source: the grouping that finishes first of every possible one, fewest tasks on ties', () => {
    // Coded bytes of the short-clip bench's 12.5 s clip (2 s segments; the last 15 frames).
    const bytes = [180515, 370409, 334493, 281315, 439702, 183109, 47984];
    const pieces = bytes.map((b, i) => piece(i === 6 ? 15 : 60, true, b));
    // In segments of mean cost (+0.3 a run): 0-2 = 3.37, 3-6 = 3.63; the guided sizes made 3, 1, 1, 1, 1.
    assert.deepEqual(sizes(groupPieces(pieces, 2)), [3, 4]);
    assert.deepEqual(sizes(groupPieces(pieces, 1)), [7]);
  });
  it('never makes a task longer than MAX_SEGMENTS_PER_TASK', () => {
    const many = groupPieces(
      Array.from({ length: 300 }, () => piece(60)),
      2,
    );
    assert.equal(Math.max(...sizes(many)), MAX_SEGMENTS_PER_TASK);
    assert.equal(
      sizes(many).reduce((a, b) => a + b),
      300,
    );
  });
  it('a shorter piece only ends a task; never joins stream-copied pieces', () => {
    assert.deepEqual(sizes(groupPieces([piece(60), piece(60), piece(59), piece(60), piece(60)], 1)), [3, 2]);
    assert.deepEqual(sizes(groupPieces([piece(59), piece(60), piece(60)], 1)), [1, 2]);
    // The source's short last segment joins the run before it.
    assert.deepEqual(sizes(groupPieces([piece(60), piece(60), piece(15)], 1)), [3]);
    assert.deepEqual(
      sizes(groupPieces([piece(60, false), piece(60, false), piece(60, false)], 1)),
      [1, 1, 1],
    );
    // One-frame segments: a key frame every frame would change the encoder's GOP mode.
    assert.deepEqual(sizes(groupPieces([piece(1), piece(1), piece(1)], 1)), [1, 1, 1]);
  });
});

describe('longestFirst', () => {
  const p = (sourceBytes: number, frames = 60) => ({ sourceBytes, framePts: Array.from({ length: frames }) });
  it('ranks the costliest encode tasks first, ties in index order', () => {
    assert.deepEqual(longestFirst([[p(10)], [p(30)], [p(10), p(15)], [p(30)]]), [3, 0, 2, 1]);
  });
  it('falls back to frame counts when sizes are unknown', () => {
    assert.deepEqual(longestFirst([[p(0, 60)], [p(0, 59), p(0, 59)], [p(5, 61)]]), [2, 0, 1]);
  });
});
