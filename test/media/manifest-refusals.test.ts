// The manifest refuses segments that do not form one stream (src/media/manifest.ts checkStream),
// shown with real segments from real encodes: a missing segment, init segments that differ
// (another encoder; another bit depth, which also changes the codec), a timeline gap. Each
// refusal is a readable, permanent error, and no playlist is written.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../../src/errors.js';
import { type Segment, SegmentSchema, type SourceInfo } from '../../src/gen/avspl1t/v1/media_pb.js';
import { encode, manifest, normalizeSettings, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { CLIPS, makeClip } from '../helpers/clips.js';

const storage = new Storage();
let dir: string;
const ctx = async () => ({ storage, tmpDir: await mkdtemp(path.join(dir, 'op-')) });

/** Splits `input` into `seconds` segments and encodes all of them with `settings`; returns the segments. */
async function encodeAll(
  input: string,
  name: string,
  seconds: number,
  settings: Parameters<typeof normalizeSettings>[0],
): Promise<{ segments: Segment[]; source: SourceInfo }> {
  const s = await split(
    { input: fileAt(input), working: folderAt(path.join(dir, `${name}-work`)), secondsPerSegment: seconds },
    await ctx(),
  );
  const segments = await encode(
    {
      pieces: s.pieces,
      source: s.source!,
      output: folderAt(path.join(dir, name)),
      settings: normalizeSettings(settings),
    },
    await ctx(),
  );
  return { segments, source: s.source! };
}

let svt: { segments: Segment[]; source: SourceInfo };
let aom: Segment[];
let coarse: Segment[];
let tenBit: Segment[];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-manifest-'));
  const clip = await makeClip(dir, CLIPS.short); // 1.2 s, 30 fps, 8-bit
  const ten = await makeClip(dir, {
    name: 'short-10bit',
    ext: 'mp4',
    args: [
      ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=1.2', '-pix_fmt', 'yuv420p10le'],
      ...['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=30'],
    ],
  });
  svt = await encodeAll(clip, 'svt', 0.4, { preset: 12, crf: 40 });
  aom = (await encodeAll(clip, 'aom', 0.4, { encoder: 'aom', preset: 8, crf: 40 })).segments;
  coarse = (await encodeAll(clip, 'coarse', 0.8, { preset: 12, crf: 40 })).segments;
  tenBit = (await encodeAll(ten, 'ten', 0.4, { preset: 12, crf: 40 })).segments;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the manifest on `segments` into a fresh folder; returns the error and what the folder holds after. */
async function refused(segments: Segment[], name: string): Promise<{ error: AppError; written: string[] }> {
  const output = path.join(dir, `manifest-${name}`);
  const error = await manifest({ segments, source: svt.source, output: folderAt(output) }, await ctx()).then(
    () => assert.fail('the manifest accepted the segments'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AppError, String(error));
  assert.equal(error.kind, ErrorKind.Permanent, error.message);
  return { error, written: await readdir(output).catch(() => []) };
}

describe('the manifest publishes only segments that form one stream', () => {
  it('the segments of one encode are accepted (the control for the refusals below)', async () => {
    assert.equal(svt.segments.length, 3);
    const m = await manifest(
      { segments: svt.segments, source: svt.source, output: folderAt(path.join(dir, 'ok')) },
      await ctx(),
    );
    assert.ok(m.master);
  });

  it('a missing segment is refused, naming it', async () => {
    const { error, written } = await refused([svt.segments[0]!, svt.segments[2]!], 'missing');
    assert.equal(error.message, 'segment 1 is missing (found 2)');
    assert.deepEqual(written, []);
  });

  it('a segment from another encoder (different init segment) is refused', async () => {
    assert.equal(aom[1]!.codecs, svt.segments[1]!.codecs, 'same codec string: only the init differs');
    const { error, written } = await refused([svt.segments[0]!, aom[1]!, svt.segments[2]!], 'init');
    assert.equal(
      error.message,
      'segment 1 was encoded with a different init segment than segment 0 (encoder settings differ between workers?)',
    );
    assert.deepEqual(written, []);
  });

  it('a 10-bit segment among 8-bit ones (another codec string, so another init) is refused', async () => {
    assert.notEqual(tenBit[1]!.codecs, svt.segments[1]!.codecs);
    const { error } = await refused([svt.segments[0]!, tenBit[1]!, svt.segments[2]!], 'codec');
    assert.match(error.message, /^segment 1 was encoded with a different init segment than segment 0/);
  });

  it('a codec or timescale that differs under the same init is refused (fields changed: real files never do this)', async () => {
    // A real encode's init carries its codec configuration and timescale, so real files reach the
    // init check first; this changes the recorded fields of a real segment to reach the codec check.
    const other = create(SegmentSchema, { ...svt.segments[1]!, codecs: tenBit[1]!.codecs });
    const { error } = await refused([svt.segments[0]!, other, svt.segments[2]!], 'codec-field');
    assert.equal(
      error.message,
      `segment 1 has codec ${tenBit[1]!.codecs}/${svt.segments[0]!.timescale}, segment 0 has ${svt.segments[0]!.codecs}/${svt.segments[0]!.timescale}`,
    );
    const slower = create(SegmentSchema, { ...svt.segments[1]!, timescale: svt.segments[1]!.timescale * 2 });
    assert.match(
      (await refused([svt.segments[0]!, slower], 'timescale')).error.message,
      /^segment 1 has codec /,
    );
  });

  it('a timeline gap is refused: segment 1 of a 0.8 s split after segment 0 of a 0.4 s split', async () => {
    assert.equal(coarse[1]!.initSha256, svt.segments[0]!.initSha256, 'same source and settings: same init');
    const { error, written } = await refused([svt.segments[0]!, coarse[1]!], 'gap');
    assert.equal(
      error.message,
      `segment 1 starts at ${coarse[1]!.start}, but segment 0 ends at ${svt.segments[0]!.start + svt.segments[0]!.duration}`,
    );
    assert.ok(coarse[1]!.start > svt.segments[0]!.start + svt.segments[0]!.duration);
    assert.deepEqual(written, []);
  });
});
