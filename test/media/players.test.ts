// Real players play the output: hls.js and Shaka Player in headless Chromium play
// the master playlist to the end, decode every frame, and see one continuous
// timeline (a wrong tfdt shows up as several buffered ranges in hls.js).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalizeSettings, runPipeline } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { CLIPS, type ClipSpec, makeClip } from '../helpers/clips.js';
import { serveDir } from '../helpers/http-server.js';
import { playHls } from '../helpers/player.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-players-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function encodeClip(spec: ClipSpec) {
  const input = await makeClip(dir, spec);
  const out = path.join(dir, `${spec.name}-out`);
  const result = await runPipeline({
    storage: new Storage(),
    input: fileAt(input),
    working: folderAt(path.join(dir, `${spec.name}-work`)),
    output: folderAt(out),
    secondsPerSegment: 2,
    settings: normalizeSettings({ preset: 12, crf: 35 }),
    jobs: 2,
  });
  return {
    out,
    frames: result.split.source!.frameCount,
    seconds:
      (result.split.source!.duration * result.split.source!.timeBase!.num) /
      result.split.source!.timeBase!.den,
  };
}

describe('hls.js and Shaka play the output to the end', { concurrency: 1 }, () => {
  for (const kind of ['ntscLongGop', 'mpegts', 'vfr'] as const) {
    it(`${kind}: both players play every frame with no error on one timeline`, async () => {
      const { out, frames, seconds } = await encodeClip(CLIPS[kind]);
      const server = await serveDir(out);
      try {
        for (const player of ['hlsjs', 'shaka'] as const) {
          const r = await playHls(`${server.url}/master.m3u8`, {
            player,
            timeoutMs: 90_000,
            playbackRate: 1,
          });
          const what = `${player}: ${JSON.stringify({ ...r, warnings: r.warnings.slice(0, 3) })}`;
          console.log(
            `${kind} ${player}: ended=${r.ended} decoded=${r.decodedFrames}/${frames} dropped=${r.droppedFrames} buffered=${JSON.stringify(r.buffered)} stalls=${r.stallsAfterStart} warnings=${r.warnings.length}`,
          );
          assert.deepEqual(r.errors, [], what);
          assert.ok(r.ended, what);
          assert.ok(Math.abs(r.duration - seconds) < 0.1, `duration ${r.duration} vs ${seconds}: ${what}`);
          assert.equal(r.buffered.length, 1, `one buffered range: ${what}`);
          assert.ok(r.decodedFrames >= frames, `decoded ${r.decodedFrames} of ${frames} frames: ${what}`);
          assert.equal(r.videoWidth, 320);
          if (kind !== 'vfr') assert.ok(r.hasAudio, `audio rendition played: ${what}`);
        }
      } finally {
        await server.close();
      }
    });
  }
});
