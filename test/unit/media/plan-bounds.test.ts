// The split's planning stays small and answers for absurd inputs: a parallelism
// of 2^32-1 or a million slots, and more segments than a spread into Math.max takes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupPieces } from '../../../src/coordinator/schedule-policy.js';
import { targetDuration } from '../../../src/media/plan.js';

const piece = (frames: number, sourceBytes = 0) => ({
  inSource: true,
  framePts: Array.from({ length: frames }),
  sourceBytes,
});

describe('groupPieces with absurd parallelism', () => {
  const pieces = Array.from({ length: 40 }, (_, i) => piece(48, 1000 + i));
  for (const parallelism of [1_000_000, 4294967295, Number.MAX_SAFE_INTEGER]) {
    it(`parallelism ${parallelism}: one piece per task, quickly, without a slot array of that size`, () => {
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      const groups = groupPieces(pieces, parallelism);
      assert.ok(performance.now() - started < 1000, 'took longer than a second');
      assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024, 'allocated more than 64 MiB');
      // More slots than pieces: every piece its own task, so every slot starts at once.
      assert.deepEqual(
        groups.map((g) => g.length),
        Array(40).fill(1),
      );
    });
  }
  it('the same plan for parallelism 40 and 2^32-1 on 40 pieces', () => {
    const sizes = (p: number) => groupPieces(pieces, p).map((g) => g.length);
    assert.deepEqual(sizes(4294967295), sizes(40));
  });
});

describe('targetDuration over many segments', () => {
  it('takes 500,000 durations (a spread into Math.max would overflow the stack)', () => {
    const durations = Array.from({ length: 500_000 }, (_, i) => (i === 123_456 ? 7.4 : 2));
    assert.equal(targetDuration(durations), 7);
  });
});
