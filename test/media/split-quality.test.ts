// The split costs no quality: a segment encoded from its stream-copied piece is
// compared with a direct encode of the same frames from the whole source, at the
// same settings (same code path, the source file standing in for the piece).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { PieceSchema } from '../../src/gen/avspl1t/v1/media_pb.js';
import { encode, normalizeSettings, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-quality-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rangePsnr(encoded: string, source: string, first: number, count: number): Promise<number> {
  const { stderr } = await run('ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-i',
    encoded,
    '-i',
    source,
    '-lavfi',
    `[0:v]setpts=N/(30*TB)[a];[1:v]select='between(n\\,${first}\\,${first + count - 1})',setpts=N/(30*TB)[b];[a][b]psnr`,
    '-f',
    'null',
    '-',
  ]);
  const m = /PSNR .* average:(\S+)/.exec(stderr);
  assert.ok(m, stderr);
  return m[1] === 'inf' ? 100 : Number(m[1]);
}

it('split + encode of a mid-GOP segment costs < 0.05 dB against a direct encode of the same frames', async () => {
  const source = await makeClip(dir, CLIPS.ntscLongGop);
  const storage = new Storage();
  const ctx = async () => ({ storage, tmpDir: await mkdtemp(path.join(dir, 'op-')) });
  const s = await split(
    {
      input: fileAt(source),
      working: folderAt(path.join(dir, 'work')),
      secondsPerSegment: 2,
      pieces: 'copy',
    },
    await ctx(),
  );
  const piece = s.pieces[1]!;
  const settings = normalizeSettings({ preset: 10, crf: 30 });
  const [viaSplit] = await encode(
    { pieces: [piece], source: s.source!, output: folderAt(path.join(dir, 'a')), settings },
    await ctx(),
  );
  const [direct] = await encode(
    {
      pieces: [
        create(PieceSchema, {
          ...piece,
          file: fileAt(source),
          // Read as a range of the source (its own demuxer), not as a cut NUT piece.
          inSource: true,
          keyPts: Number(s.source!.startPts),
          fileTimeBase: undefined,
          fileFirstPts: 0,
        }),
      ],
      source: s.source!,
      output: folderAt(path.join(dir, 'b')),
      settings,
    },
    await ctx(),
  );
  const whole = async (sub: string, seg: NonNullable<typeof viaSplit>) => {
    const out = path.join(dir, `${sub}.mp4`);
    await writeFile(
      out,
      Buffer.concat([
        await readFile(path.join(dir, sub, 'init.mp4')),
        await readFile(
          path.join(dir, sub, path.basename((seg.file!.location.value as { path: string }).path)),
        ),
      ]),
    );
    return out;
  };
  const first = 60;
  const a = await rangePsnr(await whole('a', viaSplit!), source, first, piece.framePts.length);
  const b = await rangePsnr(await whole('b', direct!), source, first, piece.framePts.length);
  const sizeDiff = Math.abs(viaSplit!.sizeBytes - direct!.sizeBytes) / direct!.sizeBytes;
  console.log(
    `split quality: via split ${a.toFixed(3)} dB, direct ${b.toFixed(3)} dB, size ${viaSplit!.sizeBytes} vs ${direct!.sizeBytes}`,
  );
  assert.ok(Math.abs(a - b) < 0.05, `PSNR via split ${a} dB vs direct ${b} dB`);
  assert.ok(sizeDiff < 0.01, `size differs by ${(sizeDiff * 100).toFixed(2)} %`);
  assert.ok(a > 30, `segment PSNR ${a} dB is plausible`);
});
