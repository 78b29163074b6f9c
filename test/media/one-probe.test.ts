// The split reads a local source's streams, container and video packets with one
// ffprobe run (each ffprobe start-up is a fixed cost on every job's critical path),
// and what it reads matches ffprobe's own view of the file.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { binaries } from '../../src/media/ffmpeg.js';
import { split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { run } from '../helpers/exec.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-one-probe-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('the split of a local MP4 runs ffprobe once and finds every frame and the audio', async () => {
  const source = path.join(dir, 'src.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30000/1001:duration=3'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-bf', '2', '-c:a', 'aac', '-shortest', source],
  ]);
  const log = path.join(dir, 'ffprobe.log');
  const wrapper = path.join(dir, 'ffprobe-wrapper.sh');
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec ffprobe "$@"\n`);
  await chmod(wrapper, 0o755);
  const real = binaries.ffprobe;
  binaries.ffprobe = wrapper;
  let s: Awaited<ReturnType<typeof split>>;
  try {
    s = await split(
      { input: fileAt(source), working: folderAt(path.join(dir, 'work')), secondsPerSegment: 1 },
      { storage: new Storage(), tmpDir: await mkdtemp(path.join(dir, 'op-')) },
    );
  } finally {
    binaries.ffprobe = real;
  }
  const runs = (await readFile(log, 'utf8')).trim().split('\n');
  assert.equal(runs.length, 1, runs.join('\n'));

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
