// An encode task covering several segments: one ffmpeg run with a key frame every
// segment, cut into placed fragments that each decode alone, frame for frame.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { binaries } from '../../src/media/ffmpeg.js';
import { encode, normalizeSettings, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { run } from '../helpers/exec.js';
import { videoPackets } from '../helpers/frames.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-runs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('three equal segments are encoded by one ffmpeg run and each segment decodes alone', async () => {
  // 6 s at 30 fps, source key frames every 45 frames: segments start mid-GOP.
  const source = path.join(dir, 'src.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=6'],
    ...[
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-g',
      '45',
      '-keyint_min',
      '45',
      '-sc_threshold',
      '0',
      source,
    ],
  ]);
  const storage = new Storage();
  const ctx = async () => ({ storage, tmpDir: await mkdtemp(path.join(dir, 'op-')) });
  const s = await split(
    { input: fileAt(source), working: folderAt(path.join(dir, 'work')), secondsPerSegment: 2 },
    await ctx(),
  );
  assert.deepEqual(
    s.pieces.map((p) => [p.inSource, p.framePts.length]),
    [
      [true, 60],
      [true, 60],
      [true, 60],
    ],
  );

  // Count the ffmpeg runs through a wrapper.
  const log = path.join(dir, 'ffmpeg.log');
  const wrapper = path.join(dir, 'ffmpeg-wrapper.sh');
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec ffmpeg "$@"\n`);
  await chmod(wrapper, 0o755);
  const real = binaries.ffmpeg;
  binaries.ffmpeg = wrapper;
  const out = path.join(dir, 'out');
  const progress: number[] = [];
  let segments: Awaited<ReturnType<typeof encode>>;
  try {
    segments = await encode(
      {
        pieces: s.pieces,
        source: s.source!,
        output: folderAt(out),
        settings: normalizeSettings({ preset: 12, crf: 35 }),
      },
      { ...(await ctx()), onProgress: (f) => progress.push(f) },
    );
  } finally {
    binaries.ffmpeg = real;
  }
  const runs = (await readFile(log, 'utf8')).trim().split('\n');
  assert.equal(runs.length, 1, runs.join('\n'));
  assert.match(runs[0]!, / -g 60 /);
  assert.deepEqual(
    segments.map((x) => [x.index, x.frameCount, x.start, x.duration]),
    [
      [0, 60, 0, 2 * s.source!.timeBase!.den],
      [1, 60, 2 * s.source!.timeBase!.den, 2 * s.source!.timeBase!.den],
      [2, 60, 4 * s.source!.timeBase!.den, 2 * s.source!.timeBase!.den],
    ].map(([i, n, start, d]) => [i, n, start! * s.source!.timeBase!.num, d! * s.source!.timeBase!.num]),
  );
  assert.ok(progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1]!)));

  const init = await readFile(path.join(out, 'init.mp4'));
  for (const [k, seg] of segments.entries()) {
    const alone = path.join(dir, `alone-${k}.mp4`);
    await writeFile(
      alone,
      Buffer.concat([init, await readFile(path.join(out, path.basename(seg.file!.location.value!.path)))]),
    );
    const { stderr } = await run('ffmpeg', ['-v', 'error', '-i', alone, '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', `segment ${k} decodes without errors`);
    const p = await videoPackets(alone);
    assert.equal(p.length, 60);
    assert.ok(p[0]!.key, `segment ${k} starts on a key frame`);
    assert.equal(p.filter((x) => x.key).length, 1, `segment ${k} has one key frame`);
    // tfdt places the segment: its first frame is at 2k s, the frames 1/30 s apart.
    for (const [j, x] of p.entries())
      assert.ok(Math.abs(x.pts - (2 * k + j / 30)) < 1e-3, `segment ${k} frame ${j} at ${x.pts}`);
  }
});
