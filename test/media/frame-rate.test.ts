// A source with a variable frame rate whose r_frame_rate is no rate it plays at: a
// 30 fps part then a 24 fps part (as an edit or a screen recording gives), for which
// ffprobe's r_frame_rate is 120/1, the rate that times both. The master playlist's
// FRAME-RATE is the most frames it shows in a second (30, by construction), not 120.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../helpers/exec.js';
import { encodeLadder } from '../helpers/ladder-checks.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-frame-rate-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 2 s at 30 fps then 2 s at 24 fps, with audio, in an MP4 that keeps each frame's time. */
async function thirtyThenTwentyFour(file: string): Promise<void> {
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=2'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=24:duration=2'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4'],
    ...['-filter_complex', '[0:v][1:v]concat=n=2:v=1[v]', '-map', '[v]', '-map', '2:a'],
    ...['-fps_mode', 'vfr', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-c:a', 'aac', file],
  ]);
}

describe('a variable frame rate source with a misleading r_frame_rate', { timeout: 300_000 }, () => {
  it('FRAME-RATE is the most frames a second it shows, every rung keeps every frame', async () => {
    const input = path.join(dir, 'vfr.mp4');
    await thirtyThenTwentyFour(input);
    const probe = JSON.parse(
      (
        await run('ffprobe', [
          ...['-v', 'error', '-select_streams', 'v:0', '-count_frames'],
          ...['-show_entries', 'stream=r_frame_rate,nb_read_frames', '-of', 'json', input],
        ])
      ).stdout,
    ).streams[0] as { r_frame_rate: string; nb_read_frames: string };
    // The case this test is about: ffprobe's nominal rate is not one the source plays at.
    assert.equal(probe.r_frame_rate, '120/1');
    assert.equal(Number(probe.nb_read_frames), 2 * 30 + 2 * 24);

    const out = path.join(dir, 'out');
    // Frame counts, timestamps, key frames and bandwidths of every rung against the source.
    const { variants } = (await encodeLadder(input, out)).master;
    assert.ok(variants.length > 1);
    for (const v of variants) assert.equal(v.attrs['FRAME-RATE'], '30.000', v.uri);
  });
});
