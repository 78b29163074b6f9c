// Unit tests of the pure media arithmetic: codec strings, playlists, planning, boxes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isSyncSample,
  makeBox,
  makeFullBox,
  makeTrun,
  parseBoxes,
  parseTrun,
  payload,
} from '../../../src/media/bmff.js';
import { av1CodecString, av1cFields } from '../../../src/media/codec-string.js';
import { placeFragment, placeFragments } from '../../../src/media/fragment.js';
import { masterPlaylist, mediaPlaylist, parseMediaPlaylist } from '../../../src/media/hls.js';
import { keyFrameFor, planPieces, targetDuration } from '../../../src/media/plan.js';
import { type Frame, variableRates } from '../../../src/media/probe.js';
import { parseRatio, rescale } from '../../../src/media/rational.js';
import { normalizeSettings, settingsProblem } from '../../../src/media/settings.js';

describe('av1CodecString', () => {
  it('reads profile, two-digit level, tier and bit depth from av1C', () => {
    assert.equal(av1CodecString(av1cFields(Buffer.from([0x81, 0x08, 0x0c, 0x00]))), 'av01.0.08M.08');
    assert.equal(av1CodecString(av1cFields(Buffer.from([0x81, 0x0d, 0x4c, 0x00]))), 'av01.0.13M.10');
    assert.equal(av1CodecString(av1cFields(Buffer.from([0x81, 0x33, 0xec, 0x00]))), 'av01.1.19H.12');
  });
  it('refuses bytes that are not an av1C', () => {
    assert.throws(() => av1CodecString(av1cFields(Buffer.from([0x00, 0x08, 0x0c, 0x00]))));
  });
});

describe('targetDuration', () => {
  it('rounds the longest EXTINF to the nearest integer (RFC 8216 4.3.3.1)', () => {
    assert.equal(targetDuration([2.002, 2.002, 1.001]), 2);
    assert.equal(targetDuration([2.5, 1]), 3);
    assert.equal(targetDuration([0.4]), 1);
  });
});

describe('playlists', () => {
  it('media playlist has version 7, map, independent segments, VOD and endlist', () => {
    const text = mediaPlaylist('init.mp4', [
      { uri: 'seg-00000.m4s', duration: 2.002 },
      { uri: 'seg-00001.m4s', duration: 1.5 },
    ]);
    for (const tag of [
      '#EXT-X-VERSION:7',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-MAP:URI="init.mp4"',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-ENDLIST',
    ])
      assert.ok(text.includes(tag), tag);
    const parsed = parseMediaPlaylist(text);
    assert.equal(parsed.map, 'init.mp4');
    assert.deepEqual(
      parsed.entries.map((e) => e.duration),
      [2.002, 1.5],
    );
  });
  it('master playlist carries codecs, resolution, frame rate, bandwidths and the audio group', () => {
    const text = masterPlaylist(
      [
        {
          uri: 'video.m3u8',
          bandwidth: 1000.2,
          averageBandwidth: 800,
          codecs: ['av01.0.08M.08', 'mp4a.40.2'],
          width: 1280,
          height: 720,
          frameRate: '29.970',
        },
      ],
      { uri: 'audio.m3u8', channels: 2, groupId: 'audio', name: 'Audio' },
    );
    assert.match(
      text,
      /BANDWIDTH=1001,AVERAGE-BANDWIDTH=800,CODECS="av01\.0\.08M\.08,mp4a\.40\.2",RESOLUTION=1280x720,FRAME-RATE=29\.970,AUDIO="audio"/,
    );
    assert.match(text, /#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio".*URI="audio\.m3u8"/);
  });
});

const frame = (pts: number, decodeIndex: number, key = false, duration = 1001, size = 100): Frame => ({
  pts,
  decodeIndex,
  key,
  duration,
  size,
});

describe('planPieces', () => {
  // 30000/1001 with B-frames: decode order I P B B ... pts in ticks of 1/30000.
  const frames: Frame[] = [];
  for (let i = 0; i < 150; i++)
    frames.push(frame(i * 1001, i === 0 ? 0 : i % 3 === 0 ? i - 2 : i + 1, i % 48 === 0));
  const plans = planPieces(frames, { num: 1, den: 30000 }, 2);
  it('cuts on frame boundaries every seconds_per_segment, the last one shorter', () => {
    assert.deepEqual(
      plans.map((p) => p.end - p.first),
      [60, 60, 30],
    );
    assert.deepEqual(
      plans.map((p) => p.start),
      [0, 60060, 120120],
    );
    assert.deepEqual(
      plans.map((p) => p.duration),
      [60060, 60060, 30030],
    );
  });
  it('starts each copy at the latest key frame at or before the first frame', () => {
    assert.deepEqual(
      plans.map((p) => p.keyFrame),
      [0, 48, 96],
    );
    assert.equal(keyFrameFor(frames, 60, 120), 48);
  });
  it('skips empty segments of a VFR gap so indexes stay consecutive', () => {
    const gappy = [frame(0, 0, true, 1), frame(1, 1), frame(5000, 2, true, 1), frame(5001, 3)];
    const p = planPieces(gappy, { num: 1, den: 1000 }, 1);
    assert.deepEqual(
      p.map((x) => [x.index, x.first, x.end]),
      [
        [0, 0, 2],
        [1, 2, 4],
      ],
    );
    assert.equal(p[0]!.duration, 5000);
  });
});

describe('variableRates', () => {
  // Expected rates worked out by hand.
  const at = (times: number[]) => times.map((pts) => ({ pts }));
  const ms = { num: 1, den: 1000 };
  // Time bases: milliseconds (Matroska; 1/30 s is 33 or 34) and 1/120 s (30 fps = 4, 24 fps = 5 ticks).
  const thirtyMs = Array.from({ length: 60 }, (_, i) => Math.round((i * 1000) / 30));
  const twentyFourMs = Array.from({ length: 48 }, (_, i) => 2000 + Math.round((i * 1000) / 24));
  const tick120 = { num: 1, den: 120 };
  const thirty120 = Array.from({ length: 60 }, (_, i) => i * 4);
  const twentyFour120 = Array.from({ length: 48 }, (_, i) => 240 + i * 5);

  it('2 s at 30 fps then 2 s at 24 fps: average 27 (108 frames in 4 s), at most 30', () => {
    for (const [tb, frames] of [
      [tick120, [...twentyFour120, ...thirty120]],
      [ms, [...twentyFourMs, ...thirtyMs]],
    ] as const) {
      const r = variableRates(at([...frames]), tb, 4, { num: 120, den: 1 });
      assert.deepEqual(r.average, { num: 27, den: 1 }, `time base 1/${tb.den}`);
      assert.ok(
        Math.abs(r.max.num / r.max.den - 30) < 0.02,
        `time base 1/${tb.den}: ${r.max.num}/${r.max.den}`,
      );
    }
  });

  it('never above the nominal rate', () => {
    assert.deepEqual(variableRates(at(thirty120), tick120, 2, { num: 25, den: 1 }).max, { num: 25, den: 1 });
  });

  it('30 fps with frames dropped here and there: still 30 at most, on average less', () => {
    const kept = thirty120.filter((_, i) => i % 7 !== 3);
    const r = variableRates(at(kept), tick120, 2, { num: 120, den: 1 });
    assert.deepEqual(r.max, { num: 30, den: 1 });
    assert.deepEqual(r.average, { num: kept.length, den: 2 });
  });
});

describe('rational', () => {
  it('parses and rescales exactly', () => {
    assert.deepEqual(parseRatio('30000/1001'), { num: 30000, den: 1001 });
    assert.equal(parseRatio('0/0'), undefined);
    assert.equal(rescale(2002, { num: 1, den: 30000 }, { num: 1, den: 60000 }), 4004);
  });
});

describe('settings', () => {
  it('names the field and range of bad settings', () => {
    assert.match(settingsProblem(normalizeSettings({ crf: 70 }))!, /settings\.crf: 70 .*0\.\.63/);
    assert.match(settingsProblem(normalizeSettings({ encoder: 'x265' }))!, /unknown encoder/);
    assert.equal(settingsProblem(normalizeSettings({})), undefined);
  });
});

describe('placeFragment', () => {
  // A synthetic fMP4: ftyp, moov (mdhd timescale 1000), moof with tfhd+tfdt+trun, mdat.
  const mdhd = makeFullBox(
    'mdhd',
    0,
    0,
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0, 0]),
  );
  const moov = makeBox('moov', makeBox('trak', makeBox('mdia', mdhd)));
  const ftyp = makeBox('ftyp', Buffer.from('iso6\0\0\0\0', 'latin1'));
  const mdatBody = Buffer.from([1, 2, 3, 4, 5, 6]);
  const build = () => {
    const tfhd = makeFullBox('tfhd', 0, 0x20000, Buffer.from([0, 0, 0, 1]));
    const tfdt = makeFullBox('tfdt', 1, 0, Buffer.alloc(8));
    const trun = (offset: number) =>
      makeTrun({
        version: 0,
        flags: 0x1 | 0x4 | 0x200,
        dataOffset: offset,
        firstSampleFlags: 0x02000000,
        samples: [{ size: 2 }, { size: 4 }],
      });
    const moofOf = (offset: number) =>
      makeBox('moof', makeFullBox('mfhd', 0, 0, Buffer.alloc(4)), makeBox('traf', tfhd, tfdt, trun(offset)));
    const moofSize = moofOf(0).length;
    return Buffer.concat([ftyp, moov, moofOf(moofSize + 8), makeBox('mdat', mdatBody)]);
  };
  /** Each fragment (moof + mdat) of a placed segment: mfhd, tfdt, sample durations, first sample sync, data. */
  const fragmentsOf = (seg: Buffer) => {
    const top = parseBoxes(seg);
    assert.equal(top[0]!.type, 'styp');
    const out = [];
    for (let i = 1; i < top.length; i += 2) {
      const [moof, mdat] = [top[i]!, top[i + 1]!];
      assert.deepEqual([moof.type, mdat.type], ['moof', 'mdat']);
      const [mfhd, traf] = parseBoxes(seg, moof.start + 8, moof.start + moof.size);
      const kids = parseBoxes(seg, traf!.start + 8, traf!.start + traf!.size);
      const trun = parseTrun(payload(seg, kids.find((b) => b.type === 'trun')!));
      // data_offset (from moof start) must point at the mdat payload.
      assert.equal(moof.start + trun.dataOffset!, mdat.start + 8);
      out.push({
        sequence: payload(seg, mfhd!).readUInt32BE(4),
        tfdt: payload(seg, kids.find((b) => b.type === 'tfdt')!).readBigUInt64BE(4),
        durations: trun.samples.map((x) => x.duration),
        sync: isSyncSample(trun.firstSampleFlags ?? trun.samples[0]!.flags!),
        data: [...payload(seg, mdat)],
        start: moof.start,
        end: mdat.start + mdat.size,
      });
    }
    return out;
  };
  it('sets tfdt, mfhd and per-sample durations, the key frame alone in a first fragment', () => {
    const placed = placeFragments(build(), [{ sequence: 7, baseTime: 123456789012, durations: [33, 34] }]);
    assert.equal(placed.timescale, 1000);
    const seg = Buffer.concat(placed.segments[0]!);
    const frags = fragmentsOf(seg);
    assert.deepEqual(
      frags.map(({ start: _s, end: _e, ...f }) => f),
      [
        { sequence: 13, tfdt: 123456789012n, durations: [33], sync: true, data: [1, 2] },
        // No default sample flags in this file's tfhd: flags 0, which reads as sync.
        { sequence: 14, tfdt: 123456789045n, durations: [34], sync: true, data: [3, 4, 5, 6] },
      ],
    );
    // The key frame's byte range is the first fragment, exactly.
    assert.deepEqual(placed.keyFrames, [
      { offset: frags[0]!.start, length: frags[0]!.end - frags[0]!.start },
    ]);
    assert.deepEqual(placed.init, Buffer.concat([ftyp, moov]));
    assert.equal(placeFragment(build(), { sequence: 7, baseTime: 0, durations: [33, 34] }).sampleCount, 2);
  });
  it('refuses a fragment whose frame count differs from the segment', () => {
    assert.throws(
      () => placeFragment(build(), { sequence: 1, baseTime: 0, durations: [1, 1, 1] }),
      /wrote 2 frames/,
    );
  });
  // One fragment of four samples (sizes 1, 2, 1, 2); samples 0 and 2 are key frames.
  const KEY = 0x02000000;
  const NON_KEY = 0x01010000;
  const four = (flags: number[]) => {
    const tfhd = makeFullBox('tfhd', 0, 0x20000, Buffer.from([0, 0, 0, 1]));
    const trun = (offset: number) =>
      makeTrun({
        version: 0,
        flags: 0x1 | 0x200 | 0x400,
        dataOffset: offset,
        samples: [1, 2, 1, 2].map((size, i) => ({ size, flags: flags[i] })),
      });
    const moofOf = (offset: number) =>
      makeBox('moof', makeFullBox('mfhd', 0, 0, Buffer.alloc(4)), makeBox('traf', tfhd, trun(offset)));
    return Buffer.concat([ftyp, moov, moofOf(moofOf(0).length + 8), makeBox('mdat', mdatBody)]);
  };
  it('cuts one fragment into several placed segments, each on a key frame', () => {
    const out = placeFragments(four([KEY, NON_KEY, KEY, NON_KEY]), [
      { sequence: 3, baseTime: 100, durations: [10, 11] },
      { sequence: 4, baseTime: 121, durations: [12, 13] },
    ]);
    assert.equal(out.segments.length, 2);
    assert.deepEqual(
      out.segments.map((parts) => fragmentsOf(Buffer.concat(parts)).map(({ start: _s, end: _e, ...f }) => f)),
      [
        [
          { sequence: 5, tfdt: 100n, durations: [10], sync: true, data: [1] },
          { sequence: 6, tfdt: 110n, durations: [11], sync: false, data: [2, 3] },
        ],
        [
          { sequence: 7, tfdt: 121n, durations: [12], sync: true, data: [4] },
          { sequence: 8, tfdt: 133n, durations: [13], sync: false, data: [5, 6] },
        ],
      ],
    );
  });
  it('refuses a run whose later segment does not start on a key frame', () => {
    assert.throws(
      () =>
        placeFragments(four([KEY, NON_KEY, NON_KEY, KEY]), [
          { sequence: 1, baseTime: 0, durations: [1, 1] },
          { sequence: 2, baseTime: 2, durations: [1, 1] },
        ]),
      /segment 2 of the run does not start with a key frame/,
    );
  });
});
