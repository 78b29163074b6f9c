// The pipeline on every kind of source the issue lists: each output must be the
// source frame for frame (see checkOutput) and carry the audio when there is some.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalizeSettings } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { CLIPS, type ClipSpec, makeClip } from '../helpers/clips.js';
import { checkOutput } from '../helpers/media-checks.js';
import { runPipeline } from '../helpers/pipeline.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-sources-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function encodeClip(spec: ClipSpec, pieces: 'auto' | 'copy' = 'auto', secondsPerSegment = 2) {
  const input = await makeClip(dir, spec);
  const out = path.join(dir, `${spec.name}-${pieces}-out`);
  const result = await runPipeline({
    storage: new Storage(),
    input: fileAt(input),
    working: folderAt(path.join(dir, `${spec.name}-work`)),
    output: folderAt(out),
    secondsPerSegment,
    settings: normalizeSettings({ preset: 12, crf: 35 }),
    pieces,
    jobs: 2,
  });
  return { input, out, result };
}

describe('media pipeline on each kind of source', { concurrency: 1 }, () => {
  // Seekable files are read in place (each encode seeks into the source); MPEG-TS
  // is remuxed and cut into stream copies; 'copy' forces the copies for every kind.
  for (const [kind, spec] of Object.entries(CLIPS))
    for (const pieces of ['auto', 'copy'] as const) {
      it(`${kind} (${pieces === 'auto' ? 'default pieces' : 'stream-copied pieces'}): output is the source frame for frame, every segment on a key frame`, async () => {
        const { input, out, result } = await encodeClip(spec, pieces);
        const inSource = result.split.pieces.map((p) => p.inSource);
        assert.deepEqual(new Set(inSource), new Set([pieces === 'auto' && !/\.ts$/.test(input)]));
        const report = await checkOutput(out, input);
        assert.equal(report.segments, result.segments.length);
        // checkOutput also checks CODECS exactly, the bandwidths, the audio's codec, segments and sync.
      });
    }
});

describe('each encoder writes one init segment shared by all segments', { concurrency: 1 }, () => {
  for (const [encoder, preset] of [
    ['aom', 8],
    ['rav1e', 10],
  ] as const) {
    it(`${encoder}: frame-exact output, identical init segments`, async () => {
      const input = await makeClip(dir, CLIPS.oddSize);
      const out = path.join(dir, `${encoder}-out`);
      const result = await runPipeline({
        storage: new Storage(),
        input: fileAt(input),
        working: folderAt(path.join(dir, `${encoder}-work`)),
        output: folderAt(out),
        secondsPerSegment: 1,
        settings: normalizeSettings({ encoder, preset, crf: 40 }),
        jobs: 2,
      });
      assert.ok(result.segments.length >= 3);
      assert.equal(new Set(result.segments.map((s) => s.initSha256)).size, 1);
      await checkOutput(out, input);
    });
  }
});
