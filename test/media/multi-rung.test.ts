// An encode task of several rungs (one ffmpeg: one decode split to a scaler and
// encoder per rung) makes, per rung, what one-rung tasks make: the source's
// frames, key frames at the same times in every rung, the same segment
// durations, each rung's codec and size, all read back with ffprobe.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import type { SplitResult } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { RenditionSchema, type Segment } from '../../src/gen/avspl1t/v1/media_pb.js';
import { binaries } from '../../src/media/ffmpeg.js';
import { encode, normalizeSettings, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { run } from '../helpers/exec.js';
import { videoPackets } from '../helpers/frames.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-multi-rung-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rungs = [
  create(RenditionSchema, {
    name: 'av1-180p',
    settings: normalizeSettings({ encoder: 'svt', preset: 12, crf: 35 }),
    width: 320,
    height: 180,
    maxBitrateKbps: 400,
  }),
  create(RenditionSchema, {
    name: 'av1-90p',
    settings: normalizeSettings({ encoder: 'svt', preset: 12, crf: 35 }),
    width: 160,
    height: 90,
    maxBitrateKbps: 150,
  }),
  create(RenditionSchema, {
    name: 'h264-90p',
    settings: normalizeSettings({ encoder: 'x264', preset: 0, crf: 28 }),
    width: 160,
    height: 90,
    maxBitrateKbps: 150,
  }),
];

/** One rung's init + segments concatenated, as a player would read them. */
async function joined(segments: Segment[], name: string): Promise<string> {
  const file = path.join(dir, `${name}.mp4`);
  const init = await readFile(segments[0]!.init!.location.value!.path);
  const parts = await Promise.all(segments.map((s) => readFile(s.file!.location.value!.path)));
  await writeFile(file, Buffer.concat([init, ...parts]));
  return file;
}

const storage = new Storage();
const ctx = async () => ({ storage, tmpDir: await mkdtemp(path.join(dir, 'op-')), threads: 1 });

/** A 6 s 320x180 H.264 source (key frame every 45 frames) split into three 2 s pieces. */
async function splitSource(name: string) {
  const source = path.join(dir, `${name}.mp4`);
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=6'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-g', '45', source],
  ]);
  const s = await split(
    { input: fileAt(source), working: folderAt(path.join(dir, `work-${name}`)), secondsPerSegment: 2 },
    await ctx(),
  );
  return { source, s };
}

/** One encode task of every rung of `s`'s pieces, run through `ffmpeg` (a wrapper), into `<dir>/<folder>/<rung>`. */
async function encodeEveryRung(s: SplitResult, folder: string, ffmpeg: string): Promise<Segment[]> {
  const real = binaries.ffmpeg;
  binaries.ffmpeg = ffmpeg;
  try {
    return await encode(
      {
        pieces: s.pieces,
        source: s.source!,
        output: folderAt(path.join(dir, 'unused')),
        settings: rungs[0]!.settings!,
        rungs: rungs.map((rendition, r) => ({
          rendition,
          renditionIndex: r,
          output: folderAt(path.join(dir, folder, rendition.name)),
        })),
      },
      await ctx(),
    );
  } finally {
    binaries.ffmpeg = real;
  }
}

/** Codec, width and height of the first video stream (ffprobe). */
async function stream(file: string): Promise<[string, number, number]> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height'],
    ...['-of', 'json', file],
  ]);
  const s = JSON.parse(stdout).streams[0] as { codec_name: string; width: number; height: number };
  return [s.codec_name, s.width, s.height];
}

it('one ffmpeg encodes three rungs of three segments; each rung matches what its own task makes', async () => {
  const { source, s } = await splitSource('src');
  assert.equal(s.pieces.length, 3);
  const sourceFrames = (await videoPackets(source)).length;
  assert.equal(sourceFrames, 180);

  // Count the ffmpeg runs through a wrapper.
  const log = path.join(dir, 'ffmpeg.log');
  const wrapper = path.join(dir, 'ffmpeg-wrapper.sh');
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec ffmpeg "$@"\n`);
  await chmod(wrapper, 0o755);
  const together = await encodeEveryRung(s, 'together', wrapper);
  const runs = (await readFile(log, 'utf8')).trim().split('\n');
  assert.equal(runs.length, 1, `one ffmpeg for every rung: ${runs.join('\n')}`);
  assert.deepEqual(
    together.map((x) => [x.renditionIndex, x.index]),
    [0, 1, 2].flatMap((r) => [0, 1, 2].map((i) => [r, i])),
    'rung by rung, each in piece order',
  );

  const keyTimes: number[][] = [];
  for (const [r, rendition] of rungs.entries()) {
    const alone = await encode(
      {
        pieces: s.pieces,
        source: s.source!,
        output: folderAt(path.join(dir, 'alone', rendition.name)),
        settings: rendition.settings!,
        rendition,
        renditionIndex: r,
      },
      await ctx(),
    );
    const mine = together.filter((x) => x.renditionIndex === r);
    const a = await joined(mine, `together-${r}`);
    const b = await joined(alone, `alone-${r}`);
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', a, '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', `${rendition.name} decodes without errors`);
    const codec = rendition.settings!.encoder === 'x264' ? 'h264' : 'av1';
    assert.deepEqual(await stream(a), [codec, rendition.width, rendition.height], rendition.name);
    assert.deepEqual(await stream(a), await stream(b), rendition.name);
    const pa = await videoPackets(a);
    const pb = await videoPackets(b);
    assert.equal(pa.length, sourceFrames, `${rendition.name}: the source's frame count`);
    assert.deepEqual(
      pa.map((p) => p.pts),
      pb.map((p) => p.pts),
      `${rendition.name}: the same frame times as its own task`,
    );
    const keys = pa.filter((p) => p.key).map((p) => p.pts);
    assert.deepEqual(keys, [0, 2, 4], `${rendition.name}: a key frame per segment`);
    assert.deepEqual(
      keys,
      pb.filter((p) => p.key).map((p) => p.pts),
      rendition.name,
    );
    keyTimes.push(keys);
    // The init segment names the codec the way its own task's does.
    assert.equal(mine[0]!.codecs, alone[0]!.codecs, rendition.name);
    assert.deepEqual(
      mine.map((x) => [x.start, x.duration, x.frameCount]),
      together.filter((x) => x.renditionIndex === 0).map((x) => [x.start, x.duration, x.frameCount]),
      `${rendition.name}: segment durations equal across rungs`,
    );
  }
  for (const k of keyTimes) assert.deepEqual(k, keyTimes[0]);
});

it('one rung with key frames elsewhere: the whole task falls back to one ffmpeg per piece, every rung still a key frame per segment', async () => {
  const { s } = await splitSource('src-fallback');
  // A stand-in ffmpeg that gives the H.264 rung a key frame every 45 frames in a run of
  // several segments (-g 60), as an encoder that ignores its key frame interval would.
  const log = path.join(dir, 'fallback.log');
  const wrapper = path.join(dir, 'ffmpeg-misplaced-keys.mjs');
  await writeFile(
    wrapper,
    `#!${process.execPath}
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
const args = process.argv.slice(2);
const x264 = args.indexOf('libx264');
for (let i = x264; x264 >= 0 && i < args.length; i++)
  if ((args[i] === '-g' || args[i] === '-keyint_min') && args[i + 1] === '60') args[i + 1] = '45';
appendFileSync(${JSON.stringify(log)}, args.join(' ') + '\\n');
process.exit(spawnSync('ffmpeg', args, { stdio: 'inherit' }).status ?? 1);
`,
  );
  await chmod(wrapper, 0o755);
  const segments = await encodeEveryRung(s, 'fallback', wrapper);
  const runs = (await readFile(log, 'utf8')).trim().split('\n');
  assert.equal(runs.length, 1 + s.pieces.length, 'the run of all pieces, then one per piece');
  assert.deepEqual(
    segments.map((x) => [x.renditionIndex, x.index]),
    [0, 1, 2].flatMap((r) => [0, 1, 2].map((i) => [r, i])),
    'rung by rung, each in piece order',
  );
  for (const [r, rendition] of rungs.entries()) {
    const file = await joined(
      segments.filter((x) => x.renditionIndex === r),
      `fallback-${r}`,
    );
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', `${rendition.name} decodes without errors`);
    const packets = await videoPackets(file);
    assert.equal(packets.length, 180, `${rendition.name}: the source's frame count`);
    assert.deepEqual(
      packets.filter((p) => p.key).map((p) => p.pts),
      [0, 2, 4],
      `${rendition.name}: a key frame per segment`,
    );
  }
});
