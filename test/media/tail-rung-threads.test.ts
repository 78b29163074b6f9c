// A tail encode task of several rungs (threads unset: every core) runs each rung's
// encoder at its default threads, as one ffmpeg writing the ladder does, and makes
// the same init segment per rung as a slot's capped encode (a rung's segments from
// both kinds of task share one init), with every source frame.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import type { SplitResult } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { RenditionSchema, type Segment } from '../../src/gen/avspl1t/v1/media_pb.js';
import { encode, normalizeSettings, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { run } from '../helpers/exec.js';
import { videoPackets } from '../helpers/frames.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-tail-threads-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rungs = [
  create(RenditionSchema, {
    name: 'av1-180p',
    settings: normalizeSettings({ encoder: 'svt', preset: 12, crf: 35 }),
    width: 320,
    height: 180,
    maxBitrateKbps: 400,
  }),
  create(RenditionSchema, {
    name: 'h264-90p',
    settings: normalizeSettings({ encoder: 'x264', preset: 2, crf: 28 }),
    width: 160,
    height: 90,
    maxBitrateKbps: 150,
  }),
];
const storage = new Storage();

/** Every rung of `s`'s pieces in one encode with the slot's `threads` (undefined: a tail task); the ffmpeg arguments it ran. */
async function encodeEveryRung(s: SplitResult, folder: string, threads: number | undefined) {
  const commands: string[][] = [];
  const segments = await encode(
    {
      pieces: s.pieces,
      source: s.source!,
      output: folderAt(path.join(dir, 'unused')),
      settings: rungs[0]!.settings!,
      rungs: rungs.map((rendition, r) => ({
        rendition,
        renditionIndex: r,
        output: folderAt(path.join(dir, folder, rendition.name)),
      })),
    },
    {
      storage,
      tmpDir: await mkdtemp(path.join(dir, 'op-')),
      threads,
      onCommand: (_program, args) => commands.push([...args]),
    },
  );
  return { segments, commands };
}

/** Frames in one rung's init + segments, counted by ffprobe. */
async function rungFrames(segments: Segment[], renditionIndex: number): Promise<number> {
  const mine = segments.filter((x) => x.renditionIndex === renditionIndex);
  const list = path.join(dir, `list-${renditionIndex}-${Math.random()}.txt`);
  const init = await readFile(mine[0]!.init!.location.value!.path);
  const parts = await Promise.all(mine.map((x) => readFile(x.file!.location.value!.path)));
  await writeFile(list, Buffer.concat([init, ...parts]));
  return (await videoPackets(list)).length;
}

it('a tail task of every rung leaves the encoders uncapped and writes the same init segments and frames as a capped one', async () => {
  const source = path.join(dir, 'src.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=4'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', source],
  ]);
  const s = await split(
    { input: fileAt(source), working: folderAt(path.join(dir, 'work')), secondsPerSegment: 2 },
    { storage, tmpDir: await mkdtemp(path.join(dir, 'op-')), threads: 1 },
  );
  assert.equal(s.pieces.length, 2);

  const capped = await encodeEveryRung(s, 'capped', 1);
  const tail = await encodeEveryRung(s, 'tail', undefined);

  const encoderCaps = (args: string[]) =>
    args.flatMap((a, i) =>
      a === '-threads' ? [`threads ${args[i + 1]}`] : /(^|:)lp=/.test(a) ? [`svt ${a}`] : [],
    );
  assert.deepEqual(
    capped.commands.flatMap(encoderCaps),
    ['svt scd=0:lp=1', 'threads 1'],
    'a slot of one thread: one per rung',
  );
  assert.deepEqual(tail.commands.flatMap(encoderCaps), [], 'a tail task: the encoders pick their threads');

  const sourceFrames = (await videoPackets(source)).length;
  for (const r of rungs.keys()) {
    const a = capped.segments.filter((x) => x.renditionIndex === r);
    const b = tail.segments.filter((x) => x.renditionIndex === r);
    assert.equal(b[0]!.initSha256, a[0]!.initSha256, `rung ${r}: one init segment for both kinds of task`);
    assert.equal(await rungFrames(tail.segments, r), sourceFrames, `rung ${r}: every source frame`);
  }
});
