// Real players on a rendition ladder, in Chromium: hls.js forced through every
// rung mid-playback (loadLevel at each fragment) keeps one continuous buffered range and decodes every frame
// once; with AV1 hidden from the page both hls.js and Shaka pick H.264 and play
// to the end; Shaka lists the I-frame playlists as trick-play streams.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { serveDir } from '../helpers/http-server.js';
import { parseMaster } from '../helpers/ladder-checks.js';
import { playHls } from '../helpers/player.js';
import {
  assertPlayedExactly,
  type ExpectedPlayback,
  expectedPlayback,
  mediaStalls,
} from '../helpers/player-checks.js';

let dir: string;
let out: string;
let expected: ExpectedPlayback;
let server: Awaited<ReturnType<typeof serveDir>>;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-ladder-players-'));
  const input = await makeClip(dir, CLIPS.ntscLongGop);
  out = path.join(dir, 'out');
  const r = await cli(
    // Half-second segments: ten fragments, so hls.js goes through the four rungs more than twice.
    ['encode', input, out, '--seconds-per-segment', '0.5', '--preset', '12', '--jobs', '2'],
    300_000,
  );
  assert.equal(r.code, 0, r.stderr);
  expected = await expectedPlayback(input);
  const { variants } = parseMaster(await readFile(path.join(out, 'master.m3u8'), 'utf8'));
  assert.equal(variants.length, 4, 'the default ladder of a 320x180 source: AV1 180p, 144p, H.264 180p, 90p');
  server = await serveDir(out);
});
after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The played size is the rung's, not the source's: check everything else of a clean playback. */
function playedCleanly(r: Awaited<ReturnType<typeof playHls>>) {
  assertPlayedExactly({ ...r, videoWidth: expected.width, videoHeight: expected.height }, expected);
}

/**
 * A playback switched across rungs: no error, to the end, every frame decoded once, one
 * continuous buffered range to the end (hls.js may drop what lies behind a switch to
 * another codec, so the range need not start at 0).
 */
function switchedCleanly(r: Awaited<ReturnType<typeof playHls>>) {
  const what = JSON.stringify({ ...r, warnings: r.warnings.slice(0, 3) });
  assert.deepEqual(r.errors, [], what);
  assert.equal(r.ended, true, what);
  assert.equal(r.decodedFrames, expected.frames, `every frame decoded once: ${what}`);
  assert.equal(r.buffered.length, 1, `one buffered range: ${what}`);
  assert.ok(r.buffered[0]![1] > expected.seconds - expected.frameSeconds, `buffered to the end: ${what}`);
  assert.deepEqual(mediaStalls(r, expected.frameSeconds), [], `no stall: ${what}`);
}

describe('players on the default ladder', { concurrency: 1 }, () => {
  it('hls.js loading each fragment from the next rung: every rung played, one buffered range, every frame once', async () => {
    const r = await playHls(`${server.url}/master.m3u8`, {
      player: 'hlsjs',
      timeoutMs: 120_000,
      cycleLevels: true,
    });
    console.log(
      `hls.js levels played: ${r.levelsPlayed.join(' → ')}; decoded ${r.decodedFrames}/${expected.frames}, buffered ${JSON.stringify(r.buffered)}`,
    );
    switchedCleanly(r);
    // hls.js keeps one codec per resolution (here the AV1 one at 320x180): every level it kept, and both codecs.
    assert.ok(r.levels.length >= 3, `levels: ${r.levels}`);
    for (const level of r.levels)
      assert.ok(r.levelsPlayed.includes(level), `${level} played: ${r.levelsPlayed}`);
    for (const codec of ['av01', 'avc1'])
      assert.ok(
        r.levelsPlayed.some((l) => l.includes(codec)),
        `a ${codec} level played: ${r.levelsPlayed}`,
      );
  });
  for (const player of ['hlsjs', 'shaka'] as const)
    it(`${player}, AV1 hidden from the page: chooses H.264 and plays to the end`, async () => {
      const r = await playHls(`${server.url}/master.m3u8`, { player, timeoutMs: 120_000, hideAv1: true });
      console.log(
        `${player} without AV1: ${r.finalVideoCodec} ${r.videoWidth}x${r.videoHeight}, buffers ${r.sourceBufferTypes}; decoded ${r.decodedFrames}/${expected.frames}, switches ${JSON.stringify(r.switchHistory)}, events ${JSON.stringify(r.shakaEvents)}, seeks ${JSON.stringify(r.seeks)}`,
      );
      playedCleanly(r);
      assert.match(r.finalVideoCodec, /^avc1\./, 'an H.264 variant');
      assert.ok(!r.sourceBufferTypes.some((t) => /av01/.test(t)), `no AV1 buffer: ${r.sourceBufferTypes}`);
    });
  it('Shaka gives every variant it keeps the I-frame (trick-play) stream of its own size and codec', async () => {
    const r = await playHls(`${server.url}/master.m3u8`, { player: 'shaka', timeoutMs: 120_000 });
    console.log(`shaka variants => trick-play streams: ${r.trickModeTracks.join('; ')}`);
    playedCleanly(r);
    // Shaka keeps one codec per resolution (here the AV1 one at 320x180), so it may list fewer variants than rungs.
    assert.ok(r.trickModeTracks.length >= 2, `variants: ${r.trickModeTracks}`);
    for (const t of r.trickModeTracks) {
      const [variant, trick] = t.split(' => ');
      assert.equal(trick, variant, `the I-frame stream of ${variant}`);
    }
  });
});
