// Real players play the output: hls.js and Shaka Player in headless Chromium play
// the master playlist to the end, decode every frame, and see one continuous
// timeline (a wrong tfdt shows up as several buffered ranges in hls.js).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../cli/processes.js';
import { CLIPS, type ClipSpec, makeClip } from '../helpers/clips.js';
import { serveDir } from '../helpers/http-server.js';
import { playHls } from '../helpers/player.js';
import { assertPlayedExactly, expectedPlayback } from '../helpers/player-checks.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-players-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Encodes through the real path: `avspl1t encode` (embedded coordinator, local workers, 2 tasks at once). */
async function encodeClip(spec: ClipSpec) {
  const input = await makeClip(dir, spec);
  const out = path.join(dir, `${spec.name}-out`);
  const r = await cli([
    'encode',
    input,
    out,
    '--seconds-per-segment',
    '2',
    '--preset',
    '12',
    '--crf',
    '35',
    '--jobs',
    '2',
    // One rendition at the source's size (test/media/ladder-players.test.ts plays the ladder).
    '--ladder',
    'single',
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { out, expected: await expectedPlayback(input) };
}

describe('hls.js and Shaka play the output to the end', { concurrency: 1 }, () => {
  for (const kind of ['ntscLongGop', 'mpegts', 'vfr'] as const) {
    it(`${kind}: both players play every frame with no error on one timeline`, async () => {
      const { out, expected } = await encodeClip(CLIPS[kind]);
      const server = await serveDir(out);
      try {
        for (const player of ['hlsjs', 'shaka'] as const) {
          const r = await playHls(`${server.url}/master.m3u8`, {
            player,
            timeoutMs: 90_000,
            playbackRate: 1,
          });
          console.log(
            `${kind} ${player}: ended=${r.ended} decoded=${r.decodedFrames}/${expected.frames} dropped=${r.droppedFrames} buffered=${JSON.stringify(r.buffered)} stalls=${r.stallsAfterStart} warnings=${r.warnings.length}`,
          );
          assertPlayedExactly(r, expected);
        }
      } finally {
        await server.close();
      }
    });
  }
});
