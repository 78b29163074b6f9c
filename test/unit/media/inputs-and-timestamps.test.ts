// Unit tests of which demuxers may read an input, how frames sharing a timestamp
// are kept, and how the status block shows a job's warnings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { formatStatus } from '../../../src/cli/format.js';
import { JobSchema } from '../../../src/gen/avspl1t/v1/coordinator_pb.js';
import { demuxerOf, inputArgs, refusalFor, refusedFormat } from '../../../src/media/input-format.js';
import { planPieces } from '../../../src/media/plan.js';
import { framesFromPackets } from '../../../src/media/probe.js';

describe('input formats', () => {
  it('names the accepted demuxer of a format_name list, "" for any other', () => {
    assert.equal(demuxerOf('mov,mp4,m4a,3gp,3g2,mj2'), 'mov');
    assert.equal(demuxerOf('matroska,webm'), 'matroska');
    assert.equal(demuxerOf('hls'), '');
    assert.equal(demuxerOf('concat'), '');
    assert.equal(demuxerOf('image2'), '');
  });
  it('forces a known demuxer and whitelists the video ones otherwise; local files only', () => {
    assert.deepEqual(inputArgs('mov'), ['-protocol_whitelist', 'file', '-f', 'mov']);
    for (const d of [undefined, '', 'hls', 'concat,mov']) {
      const args = inputArgs(d);
      assert.equal(args[args.indexOf('-protocol_whitelist') + 1], 'file');
      const list = args[args.indexOf('-format_whitelist') + 1]!.split(',');
      assert.ok(list.includes('mov') && !list.includes('hls') && !list.includes('concat'), String(d));
      assert.ok(!args.includes('-f'));
    }
  });
  it("reads the refused demuxer from ffprobe's whitelist error", () => {
    const stderr =
      "[hls @ 0x55d0c3a4f540] Format not on whitelist 'mov,matroska'\n/x/list.mp4: Invalid argument";
    assert.match(refusedFormat(stderr)!, /playlist or list \(hls\) that refers to other files/);
    assert.match(refusedFormat("[concat @ 0xabc] Format not on whitelist 'mov'")!, /\(concat\)/);
    assert.match(
      refusedFormat("[image2 @ 0xabc] Format not on whitelist 'mov'")!,
      /still image or image sequence/,
    );
    assert.equal(refusedFormat('moov atom not found'), undefined);
    assert.match(refusalFor('wav'), /not accepted/);
  });
});

const packet = (pts: number, key = false) => ({
  pts,
  dts: pts,
  duration: 33,
  size: 100,
  key,
  discard: false,
});

describe('frames sharing a timestamp', () => {
  it('are all kept, each later one moved one tick after the frame before', () => {
    const frames = framesFromPackets([packet(0, true), packet(33), packet(33), packet(67), packet(100)]);
    assert.deepEqual(
      frames.map((f) => [f.pts, f.decodeIndex, Boolean(f.moved)]),
      [
        [0, 0, false],
        [33, 1, false],
        [34, 2, true],
        [67, 3, false],
        [100, 4, false],
      ],
    );
    assert.deepEqual(
      frames.map((f) => f.duration),
      [33, 1, 33, 33, 33],
    );
  });
  it('a moved frame stays in the segment of the frame it shared a timestamp with', () => {
    // Segments of 100 ms: the frame at 99 ms has a twin, moved to 100 ms (the next segment's start).
    const frames = framesFromPackets([
      packet(0, true),
      packet(50),
      packet(99),
      packet(99),
      packet(150),
      packet(200),
    ]);
    const plans = planPieces(frames, { num: 1, den: 1000 }, 0.1);
    assert.deepEqual(
      plans.map((p) => frames.slice(p.first, p.end).map((f) => f.pts)),
      [[0, 50, 99, 100], [150], [200]],
    );
  });
});

it('status shows each warning of the job on its own line', () => {
  const text = formatStatus(create(JobSchema, { id: 'j1', warnings: ['1 frame(s) had the same timestamp'] }));
  assert.match(text, /^warning\s+1 frame\(s\) had the same timestamp$/m);
});
