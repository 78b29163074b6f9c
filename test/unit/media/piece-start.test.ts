// Which source key frame a cut piece starts at: a binary search over the source's
// frames (each piece's check reads a handful of them, not every frame before it),
// the same answer as a scan from the start.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import type { Frame } from '../../../src/media/probe.js';
import { type Ratio, rescale } from '../../../src/media/rational.js';
import { keyFrameAtOrBefore } from '../../../src/media/split.js';

/** Frames 1001 ticks apart (1/30000 time base) with a key frame every `gop`. */
function frames(count: number, gop: number): Frame[] {
  return Array.from({ length: count }, (_, i) => ({
    pts: i * 1001,
    decodeIndex: i,
    key: i % gop === 0,
    duration: 1001,
    size: 100,
  }));
}

/** The reference: every frame from the start, the last key frame not beyond `limit`. */
function scan(list: Frame[], from: Ratio, to: Ratio, limit: number): Frame | undefined {
  let start: Frame | undefined;
  for (const f of list) {
    if (rescale(f.pts, from, to) > limit) break;
    if (f.key) start = f;
  }
  return start;
}

const source: Ratio = { num: 1, den: 30000 };
const nut: Ratio = { num: 1, den: 1000 };

it('finds the latest key frame at or before a timestamp, as a scan from the start does', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 1, max: 60 }),
      fc.integer({ min: -100, max: 20_000 }),
      (count, gop, limit) => {
        const list = frames(count, gop);
        assert.equal(keyFrameAtOrBefore(list, source, nut, limit), scan(list, source, nut, limit));
      },
    ),
  );
});

it('reads a few dozen frames of a 2-hour source per piece, not every frame before the piece', () => {
  const list = frames(216_000, 60);
  let reads = 0;
  const counted = new Proxy(list, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  const limit = rescale(list[200_010]!.pts, source, nut);
  assert.equal(keyFrameAtOrBefore(counted, source, nut, limit), list[199_980]);
  assert.ok(reads < 100, `${reads} frames read`);
});
