// The rendition ladder's pure parts: the default ladder a source gets, the checks
// that refuse bad rungs naming them, and the encode tasks a ladder job gets.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ladderOptions, parseRendition } from '../../../src/cli/ladder-options.js';
import { ladderEncodeTasks } from '../../../src/coordinator/ladder-tasks.js';
import {
  type Piece,
  PieceSchema,
  RenditionSchema,
  SourceInfoSchema,
} from '../../../src/gen/avspl1t/v1/media_pb.js';
import { checkLadder, defaultLadder, resolveLadder } from '../../../src/media/ladder.js';
import { normalizeSettings } from '../../../src/media/settings.js';
import { folderAt } from '../../../src/storage/index.js';

const svt = normalizeSettings({ encoder: 'svt', crf: 30, preset: 8 });
const rungs = (w: number, h: number) =>
  defaultLadder({ width: w, height: h, fps: 30 }, svt).map((r) => `${r.name} ${r.width}x${r.height}`);

describe('default ladder', () => {
  it('1080p: AV1 at 1080/720/480/360, H.264 at 720/360', () => {
    assert.deepEqual(rungs(1920, 1080), [
      'av1-1080p 1920x1080',
      'av1-720p 1280x720',
      'av1-480p 854x480',
      'av1-360p 640x360',
      'h264-720p 1280x720',
      'h264-360p 640x360',
    ]);
  });
  it('4K is capped at 1080p; never upscaled: a 180p source tops out at 180p', () => {
    assert.equal(rungs(3840, 2160)[0], 'av1-1080p 1920x1080');
    assert.deepEqual(rungs(320, 180), [
      'av1-180p 320x180',
      'av1-144p 256x144',
      'h264-180p 320x180',
      'h264-90p 160x90',
    ]);
  });
  it('a portrait source (a phone video shown turned) gets the landscape ladder turned, named by its short side', () => {
    assert.deepEqual(rungs(1080, 1920), [
      'av1-1080p 1080x1920',
      'av1-720p 720x1280',
      'av1-480p 480x854',
      'av1-360p 360x640',
      'h264-720p 720x1280',
      'h264-360p 360x640',
    ]);
    assert.deepEqual(rungs(180, 320), [
      'av1-180p 180x320',
      'av1-144p 144x256',
      'h264-180p 180x320',
      'h264-90p 90x160',
    ]);
  });
  it('odd source sizes give even rungs no larger than the source', () => {
    for (const r of defaultLadder({ width: 321, height: 181, fps: 25 }, svt)) {
      assert.equal(r.width % 2, 0, r.name);
      assert.equal(r.height % 2, 0, r.name);
      assert.ok(r.width <= 321 && r.height <= 181, r.name);
    }
  });
  it('AV1 rungs use the job settings, H.264 rungs x264 (High, 8-bit by the encoder), all capped', () => {
    for (const r of defaultLadder({ width: 1280, height: 720, fps: 30 }, svt)) {
      assert.ok(r.maxBitrateKbps > 0, r.name);
      assert.equal(r.settings!.encoder, r.name.startsWith('av1') ? 'svt' : 'x264');
    }
  });
});

describe('ladder checks name the rung', () => {
  const rung = (encoder: string, height: number, kbps: number, width = 0) =>
    create(RenditionSchema, { settings: { encoder }, height, width, maxBitrateKbps: kbps });
  it('refuses an unknown codec, a bit rate cap of 0, duplicate rungs', () => {
    assert.throws(
      () => checkLadder([rung('svt', 144, 100), rung('x265', 144, 100)]),
      /renditions\[1\].*unknown codec "x265"/,
    );
    assert.throws(
      () => checkLadder([rung('x264', 144, 0)]),
      /rendition 0 \(h264-144p\).*max_bitrate_kbps must be above 0/,
    );
    assert.throws(
      () => checkLadder([rung('svt', 144, 100), rung('aom', 144, 200)]),
      /rendition 1 \(av1-144p\) duplicates rendition 0/,
    );
    assert.doesNotThrow(() => checkLadder([rung('svt', 144, 100), rung('x264', 144, 200)]));
  });
  it('refuses a rung larger than the source when the source is known', () => {
    const source = { width: 320, height: 180, fps: 30 };
    assert.throws(
      () =>
        resolveLadder({ renditions: [rung('svt', 180, 100), rung('x264', 360, 300)], ladder: '' }, source),
      /rendition 1 \(h264-360p\).*larger than the source \(320x180\)/,
    );
    const ladder = resolveLadder({ renditions: [rung('x264', 90, 100)], ladder: '' }, source);
    assert.deepEqual(
      ladder.map((r) => [r.name, r.width, r.height]),
      [['h264-90p', 160, 90]],
    );
  });
  it('no ladder asked: one rendition at the source size with the job settings (the single rendition)', () => {
    const [only, ...rest] = resolveLadder(
      { renditions: [], ladder: '', settings: svt },
      { width: 321, height: 181, fps: 30 },
    );
    assert.deepEqual(rest, []);
    assert.deepEqual([only!.name, only!.width, only!.height, only!.maxBitrateKbps], ['', 321, 181, 0]);
  });
  it('--rendition specs parse to rungs', () => {
    const r = parseRendition('h264:640x360:800:23:1', svt);
    assert.deepEqual(
      [r.settings!.encoder, r.width, r.height, r.maxBitrateKbps, r.settings!.crf],
      ['x264', 640, 360, 800, 23],
    );
    assert.equal(parseRendition('av1:720:2500', svt).settings!.encoder, 'svt');
    assert.throws(() => parseRendition('av1:720', svt), /--rendition "av1:720"/);
    assert.throws(() => parseRendition('av1:big:100', svt), /size "big"/);
  });
});

describe('encode tasks of a ladder job', () => {
  const pieces: Piece[] = Array.from({ length: 5 }, (_, i) =>
    create(PieceSchema, { index: i, framePts: [0, 1], inSource: true, sourceBytes: i === 2 ? 900 : 100 }),
  );
  const source = create(SourceInfoSchema, { width: 320, height: 180 });
  const ladder = defaultLadder({ width: 320, height: 180, fps: 30 }, svt);
  const tasks = ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), 2);
  it('every task encodes every rung of its pieces; task indexes (first piece × rungs) tile rungs × pieces', () => {
    const covered = tasks.flatMap((t) => t.task.pieces!.map((p) => p.index ?? -1));
    assert.deepEqual(
      covered.sort((a, b) => a - b),
      pieces.map((p) => p.index),
    );
    for (const t of tasks) {
      assert.equal(t.idx, (t.task.pieces![0]!.index ?? -1) * ladder.length);
      assert.deepEqual(
        t.task.rungs!.map((r) => [r.rendition?.name, r.renditionIndex]),
        ladder.map((r, i) => [r.name, i]),
      );
    }
  });
  it('costliest first: the task with the busy piece first', () => {
    const byRank = [...tasks].sort((a, b) => a.rank - b.rank);
    assert.ok(byRank[0]!.task.pieces!.some((p) => p.index === 2));
  });
  it('with the fleet unknown (parallelism 0): the busy piece of the largest rungs first', () => {
    const one = ladderEncodeTasks(pieces, ladder, source, folderAt('/out'), 0);
    assert.equal(one.length, pieces.length * ladder.length);
    const byRank = [...one].sort((a, b) => a.rank - b.rank);
    const top = byRank[0]!.task;
    assert.equal(top.pieces![0]!.index, 2);
    assert.equal(top.rendition!.height, Math.max(...ladder.map((r) => r.height)));
  });
});

describe('--ladder FILE.json', () => {
  it('reads rungs from a JSON file, checked as the coordinator checks them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-ladder-json-'));
    try {
      const good = path.join(dir, 'good.json');
      await writeFile(
        good,
        JSON.stringify([
          { encoder: 'svt', height: 720, maxBitrateKbps: 2500 },
          {
            name: 'sd',
            settings: { encoder: 'x264', crf: 21 },
            width: 640,
            height: 360,
            max_bitrate_kbps: 900,
          },
        ]),
      );
      const { ladder, renditions } = ladderOptions({ ladder: good }, svt);
      assert.equal(ladder, '');
      assert.deepEqual(
        renditions.map((r) => [
          r.name,
          r.settings!.encoder,
          r.settings!.crf,
          r.width,
          r.height,
          r.maxBitrateKbps,
        ]),
        [
          ['', 'svt', 30, 0, 720, 2500],
          ['sd', 'x264', 21, 640, 360, 900],
        ],
      );
      const bad = path.join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify([{ encoder: 'x264', height: 360 }]));
      assert.throws(() => ladderOptions({ ladder: bad }, svt), /rendition 0 \(h264-360p\): max_bitrate_kbps/);
      assert.throws(
        () => ladderOptions({ ladder: path.join(dir, 'none.json') }, svt),
        /not a readable JSON file/,
      );
      assert.deepEqual(ladderOptions({ ladder: 'single' }, svt), { ladder: 'single', renditions: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
