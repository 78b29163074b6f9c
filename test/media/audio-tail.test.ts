// An exactly 8.000 s clip with audio, cut in 2 s segments, gets 4 audio segments
// and no short trailing one (the AAC priming frame once pushed 0.023 s past the
// end into a fifth). `avspl1t encode` as a subprocess; durations by ffprobe.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { cli } from '../cli/processes.js';
import { run } from '../helpers/exec.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-audio-tail-');
});
after(() => dir.cleanup());

/** Seconds of audio in one fMP4 segment, read with its init segment: AAC frames (1024 samples each) / sample rate. */
async function audioSeconds(init: string, segment: string, scratch: string): Promise<number> {
  await writeFile(scratch, Buffer.concat([await readFile(init), await readFile(segment)]));
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'a:0', '-count_packets'],
    ...['-show_entries', 'stream=nb_read_packets,sample_rate', '-of', 'json', scratch],
  ]);
  const [stream] = (JSON.parse(stdout) as { streams: { nb_read_packets: string; sample_rate: string }[] })
    .streams;
  return (Number(stream!.nb_read_packets) * 1024) / Number(stream!.sample_rate);
}

it('an 8.000 s clip in 2 s segments gets 4 audio segments, none shorter than a few AAC frames', async () => {
  const clip = path.join(dir.path, 'eight.mp4');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-nostdin'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=8'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=8'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-c:a', 'aac', clip],
  ]);
  const { stdout: probed } = await run('ffprobe', [
    ...['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', clip],
  ]);
  assert.equal(Number(probed), 8, 'the source lasts exactly 8.000 s');

  const out = path.join(dir.path, 'out');
  const r = await cli(['encode', clip, out, '--seconds-per-segment', '2', '--preset', '12', '--jobs', '2']);
  assert.equal(r.code, 0, r.stderr);
  const playlist = await readFile(path.join(out, 'audio.m3u8'), 'utf8');
  const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]!;
  const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(segments.length, 4, playlist);
  const seconds: number[] = [];
  for (const s of segments)
    seconds.push(await audioSeconds(path.join(out, init), path.join(out, s), path.join(dir.path, 'one.mp4')));
  // A few AAC frames (1024 samples at 48 kHz each): far above 0.023 s, far below 2 s.
  const fewFrames = (4 * 1024) / 48000;
  assert.ok(
    seconds.every((s) => s > fewFrames),
    `audio segment durations ${seconds.join(', ')}`,
  );
  const total = seconds.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 8) < 0.05, `audio lasts ${total} s in all`);
});
