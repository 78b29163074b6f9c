// A worker confined to allowed roots: ffmpeg and ffprobe read the input through
// the descriptor that was opened and checked (/proc/<pid>/fd/<n>), never by its
// name, and the split, encode and audio still produce media that decodes.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { binaries } from '../../src/media/ffmpeg.js';
import { encode, encodeAudio, normalizeSettings, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { run } from '../helpers/exec.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-confined-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Replaces binaries[name] with a wrapper logging each run's arguments; returns the log path and an undo. */
async function logRuns(name: 'ffmpeg' | 'ffprobe'): Promise<{ log: string; undo: () => void }> {
  const log = path.join(dir, `${name}.log`);
  const wrapper = path.join(dir, `${name}-wrapper.sh`);
  const real = binaries[name];
  await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec ${real} "$@"\n`);
  await chmod(wrapper, 0o755);
  binaries[name] = wrapper;
  const undo = () => {
    binaries[name] = real;
  };
  return { log, undo };
}

it('with allowed roots, every read of the input goes through the checked descriptor', async () => {
  const source = path.join(dir, 'src.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=4'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:duration=4'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-c:a', 'aac', '-shortest', source],
  ]);
  const storage = new Storage({ fs: { allowedRoots: [dir] } });
  const ctx = async () => ({ storage, tmpDir: await mkdtemp(path.join(dir, 'op-')) });
  const ffmpeg = await logRuns('ffmpeg');
  const ffprobe = await logRuns('ffprobe');
  const out = folderAt(path.join(dir, 'out'));
  let segments: Awaited<ReturnType<typeof encode>>;
  try {
    const s = await split(
      { input: fileAt(source), working: folderAt(path.join(dir, 'work')), secondsPerSegment: 2 },
      await ctx(),
    );
    assert.deepEqual(
      s.pieces.map((p) => p.inSource),
      [true, true],
    );
    segments = await encode(
      {
        pieces: s.pieces,
        source: s.source!,
        output: out,
        settings: normalizeSettings({ preset: 12, crf: 40 }),
      },
      await ctx(),
    );
    await encodeAudio(
      { input: fileAt(source), source: s.source!, output: out, secondsPerSegment: 2 },
      await ctx(),
    );
  } finally {
    ffmpeg.undo();
    ffprobe.undo();
  }
  const lines = [
    ...(await readFile(ffmpeg.log, 'utf8')).trim().split('\n'),
    ...(await readFile(ffprobe.log, 'utf8')).trim().split('\n'),
  ];
  assert.ok(lines.length >= 3, lines.join('\n'));
  for (const line of lines) {
    assert.ok(!line.includes(source), `read by name: ${line}`);
    if (line.includes(' -i ')) assert.match(line, new RegExp(`-i /proc/${process.pid}/fd/\\d+ `), line);
  }

  const init = await readFile(path.join(dir, 'out', 'init.mp4'));
  assert.equal(segments.length, 2);
  for (const seg of segments) {
    const alone = path.join(dir, `alone-${seg.index}.mp4`);
    const name = path.basename(seg.file!.location.value!.path);
    await writeFile(alone, Buffer.concat([init, await readFile(path.join(dir, 'out', name))]));
    const { stdout, stderr } = await run('ffprobe', [
      ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
      ...['-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'csv=p=0', alone],
    ]);
    assert.equal(stderr.trim(), '');
    assert.equal(stdout.trim(), 'av1,60');
  }
});
