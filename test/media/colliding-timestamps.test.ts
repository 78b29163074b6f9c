// A source whose container gives two frames the same timestamp (a VFR stream in
// Matroska's 1 ms time base): every decoded frame reaches the output, and the job
// says it moved a timestamp. Frame counts come from ffprobe, not from the code.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { cli } from '../cli/processes.js';
import { run } from '../helpers/exec.js';
import { concatPlaylist } from '../helpers/media-checks.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const FF = ['-hide_banner', '-loglevel', 'error', '-y', '-nostdin'];
let dir: TmpDir;
let source: string;
before(async () => {
  dir = await tmpDir('avspl1t-collide-');
  const base = path.join(dir.path, 'base.mkv');
  await run('ffmpeg', [
    ...FF,
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=3'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '30', base],
  ]);
  // Frame 10 (at 333 ms) moved back onto frame 9's 300 ms: two frames, one timestamp.
  source = path.join(dir.path, 'collide.mkv');
  const shift = 'if(eq(N\\,10)\\,PTS-33\\,PTS)';
  await run('ffmpeg', [
    ...FF,
    ...['-i', base, '-c', 'copy', '-bsf:v', `setts=pts=${shift}:dts=${shift.replace(/PTS/g, 'DTS')}`],
    source,
  ]);
});
after(() => dir?.cleanup());

/** Decoded video frames of `file` (a media file or playlist), counted by ffprobe. */
async function decodedFrames(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file],
  ]);
  return Number(stdout.trim().split('\n')[0]);
}

it('a source with two frames on one timestamp keeps both, and the job warns of the repair', async () => {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts', '-of', 'csv=p=0', source],
  ]);
  const pts = stdout.trim().split('\n').map(Number);
  assert.equal(new Set(pts).size, pts.length - 1, 'the fixture has exactly one shared timestamp');
  const want = await decodedFrames(source);
  assert.equal(want, 90);

  const out = path.join(dir.path, 'out');
  const res = await cli(
    // One rendition: the repair is checked on its timestamps (test/media/ladder.test.ts checks every rung's).
    [
      'encode',
      source,
      out,
      '--preset',
      '12',
      '--crf',
      '45',
      '--jobs',
      '2',
      '--seconds-per-segment',
      '1',
      '--ladder',
      'single',
    ],
    240_000,
  );
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await decodedFrames(path.join(out, 'video.m3u8')), want);
  // Every frame has its own time: the source's, the twin one tick (1 ms) after the first.
  const all = path.join(dir.path, 'all.mp4');
  await concatPlaylist(out, 'video.m3u8', all);
  const got = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts', '-of', 'csv=p=0', all],
  ]);
  const outPts = got.stdout.trim().split('\n').map(Number);
  const twin = pts.findIndex((t, i) => pts.indexOf(t) !== i);
  const expected = pts.map((t, i) => t - pts[0]! + (i === twin ? 1 : 0));
  assert.deepEqual(
    [...outPts].sort((a, b) => a - b),
    expected.sort((a, b) => a - b),
  );
  assert.match(res.stderr, /warning: .*1 frame.*same timestamp.*moved/i);
});
