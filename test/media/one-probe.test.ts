// The split reads a local source's streams, container and video packets with one
// ffprobe run (each ffprobe start-up is a fixed cost on every job's critical path),
// and what it reads matches ffprobe's own view of the file; the audio task reuses
// the split's facts instead of probing the source again.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { binaries } from '../../src/media/ffmpeg.js';
import { encodeAudio, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { run } from '../helpers/exec.js';

let dir: string;
let source: string;
let runs = 0;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-one-probe-'));
  source = path.join(dir, 'src.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30000/1001:duration=3'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=3'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-c:a', 'aac', '-ac', '2', '-shortest', source],
  ]);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The ffprobe command lines run while `f` runs (through a wrapper that logs each). */
async function ffprobeRuns<T>(f: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const log = path.join(dir, `ffprobe-${++runs}.log`);
  const wrapper = path.join(dir, `ffprobe-${runs}.sh`);
  await writeFile(log, '');
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec ffprobe "$@"\n`);
  await chmod(wrapper, 0o755);
  const real = binaries.ffprobe;
  binaries.ffprobe = wrapper;
  try {
    const result = await f();
    return { result, lines: (await readFile(log, 'utf8')).split('\n').filter(Boolean) };
  } finally {
    binaries.ffprobe = real;
  }
}

const ctx = async () => ({ storage: new Storage(), tmpDir: await mkdtemp(path.join(dir, 'op-')) });
const splitSource = async () =>
  split(
    { input: fileAt(source), working: folderAt(path.join(dir, 'work')), secondsPerSegment: 1 },
    await ctx(),
  );

it('the split of a local MP4 runs ffprobe once and finds every frame and the audio', async () => {
  const { result: s, lines } = await ffprobeRuns(splitSource);
  assert.equal(lines.length, 1, lines.join('\n'));

  // ffprobe's view, read independently: every video packet's pts in presentation order.
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts', '-of', 'csv=p=0', source],
  ]);
  const pts = stdout
    .trim()
    .split('\n')
    .map(Number)
    .sort((a, b) => a - b);
  assert.deepEqual(
    s.pieces.flatMap((p) => p.framePts.map(Number)),
    pts,
  );
  const info = s.source!;
  assert.equal(info.frameCount, pts.length);
  assert.equal(info.hasAudio, true);
  assert.deepEqual([info.width, info.height, info.videoCodec], [320, 180, 'h264']);
  assert.deepEqual([info.frameRate?.num, info.frameRate?.den], [30000, 1001]);
  assert.equal(info.demuxer, 'mov');
});

it("the audio task runs no ffprobe of its own: the split's source facts carry the channels and rate", async () => {
  const s = await splitSource();
  const out = path.join(dir, 'audio-out');
  const { result: audio, lines } = await ffprobeRuns(async () =>
    encodeAudio(
      { input: fileAt(source), source: s.source!, output: folderAt(out), secondsPerSegment: 1 },
      await ctx(),
    ),
  );
  assert.deepEqual(lines, []);
  // The rendition as ffprobe reads it from the output.
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-show_entries', 'stream=codec_name,channels,sample_rate', '-of', 'csv=p=0'],
    path.join(out, 'audio-init.mp4'),
  ]);
  assert.equal(stdout.trim(), 'aac,44100,2');
  assert.deepEqual([audio.channels, audio.sampleRate], [2, 44100]);
});
