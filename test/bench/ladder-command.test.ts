// The ladder benchmark's baseline (bench/ladder-command.ts): the one ffmpeg
// command writes the rungs `avspl1t encode` writes for the same ladder, as ffprobe
// reads them, and the check catches a command whose key frames differ.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkSameRungs, ladderCommand, rungFacts } from '../../bench/ladder-command.js';
import { makeSceneClip } from '../../bench/lib.js';
import { defaultLadder } from '../../src/media/ladder.js';
import { normalizeSettings } from '../../src/media/settings.js';
import { cli } from '../cli/processes.js';
import { run } from '../helpers/exec.js';

const source = { width: 320, height: 180, fps: 30 };
const SECONDS = 2;
// The default ladder of a 320x180 source: AV1 at 180p and 144p, H.264 at 180p and 90p.
const ladder = defaultLadder(source, normalizeSettings({ encoder: 'svt', crf: 30, preset: 12 }));

let dir: string;
let clip: string;
let avspl1tOut: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-ladder-bench-'));
  clip = path.join(dir, 'clip.mp4');
  makeSceneClip(clip, source.width, source.height, SECONDS, source.fps);
  avspl1tOut = path.join(dir, 'avspl1t');
  const r = await cli(['encode', clip, avspl1tOut, '--seconds-per-segment', '1', '--preset', '12']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the baseline command for the ladder with `secondsPerSegment`; returns its output folder. */
async function ffmpegLadder(name: string, secondsPerSegment: number): Promise<string> {
  const out = path.join(dir, name);
  await mkdir(out);
  await run('ffmpeg', ladderCommand({ clip, source, ladder, secondsPerSegment, out }), {
    timeoutMs: 120_000,
  });
  return out;
}

describe('the ladder benchmark baseline command', () => {
  it('writes the rungs avspl1t encode writes: codec, profile, size, frames, key frame times', async () => {
    assert.deepEqual(
      ladder.map((r) => `${r.name} ${r.width}x${r.height}`),
      ['av1-180p 320x180', 'av1-144p 256x144', 'h264-180p 320x180', 'h264-90p 160x90'],
    );
    const out = await ffmpegLadder('ffmpeg', 1);
    const lines = checkSameRungs(ladder, avspl1tOut, out, SECONDS * source.fps);
    assert.equal(lines.length, 4);
    // Read again here so the test states what "the same" is: a key frame every second, 60 frames.
    for (const r of ladder) {
      const facts = rungFacts(path.join(out, r.name, 'video.m3u8'));
      assert.deepEqual(facts.keyTimes, [0, 1], r.name);
      assert.equal(facts.frames, 60, r.name);
      assert.equal(facts.profile, r.settings!.encoder === 'x264' ? 'High' : 'Main', r.name);
    }
  });

  it('the check names the rung when the key frames differ', async () => {
    const out = await ffmpegLadder('ffmpeg-2s', 2);
    assert.throws(
      () => checkSameRungs(ladder, avspl1tOut, out, SECONDS * source.fps),
      /^Error: av1-180p: avspl1t .*keyTimes/,
    );
  });
});
