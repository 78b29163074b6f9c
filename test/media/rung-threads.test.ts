// What decides the threads of each rung's encoder in a ladder run (src/media/rung-threads.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rungThreads } from '../../src/media/rung-threads.js';

test('a tail task of a ladder leaves every rung encoder at its default threads (every core), as one ffmpeg writing the ladder does', () => {
  for (const rungs of [2, 6, 12]) assert.equal(rungThreads(rungs, undefined), undefined, `${rungs} rungs`);
});

test('a tail task of one rung leaves its encoder at its default threads', () => {
  assert.equal(rungThreads(1, undefined), undefined);
});

test("a slot with a thread budget divides it among its rungs, at least one each, so slots don't oversubscribe the cores", () => {
  assert.equal(rungThreads(6, 1), 1);
  assert.equal(rungThreads(6, 2), 1);
  assert.equal(rungThreads(2, 8), 4);
  assert.equal(rungThreads(6, 12), 2);
});

test("a slot's one rung gets the slot's threads", () => {
  assert.equal(rungThreads(1, 3), 3);
});
