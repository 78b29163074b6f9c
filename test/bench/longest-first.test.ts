// The scale-out report's bound for whole tasks (bench/scale-out.ts longestFirstSpan):
// tasks run costliest first, each on the worker free first.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { longestFirstSpan } from '../../bench/scale-out.js';

describe('longestFirstSpan', () => {
  it('places the costliest tasks first, each on the worker free first', () => {
    // By hand: 3 | 3, then 2 → 5 | 3, 2 → 5 | 5, 2 → 7 | 5.
    assert.equal(longestFirstSpan([2, 3, 2, 3, 2], 2), 7);
  });

  it('is the longest task when there are more workers than tasks', () => {
    assert.equal(longestFirstSpan([1, 6, 2], 8), 6);
  });

  it('is the sum on one worker', () => {
    assert.equal(longestFirstSpan([1.5, 2.5, 3], 1), 7);
  });
});
