// Sources whose frames are not shown as they are coded: a phone's portrait video
// (a display matrix turns the coded 320x180 frames 90°) and anamorphic video
// (non-square pixels: 240x180 coded, shown 16:9). A viewer must see every rung as
// the source is shown: its orientation and aspect ratio, square pixels, no display
// matrix left to turn it again. Every expected value is read from the source by
// ffprobe/ffmpeg (ffmpeg shows a source turned by its display matrix).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { normalizeSettings } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';
import { decodeErrors } from '../helpers/frames.js';
import { encodeLadder, parseMaster } from '../helpers/ladder-checks.js';
import { checkOutput } from '../helpers/media-checks.js';
import { runPipeline } from '../helpers/pipeline.js';

/** Lowest mean luma PSNR of a rung against the source as shown, scaled to the rung's size. */
const MIN_PSNR_DB = 25;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-geometry-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Shown {
  width: number;
  height: number;
  /** Pixel aspect ratio (1 when square or unset). */
  sar: number;
  /** Display matrix rotation in degrees (0 when none). */
  rotation: number;
  frames: number;
}

/** How ffprobe says a file (or playlist) is shown: coded size, pixel aspect ratio, rotation, decoded frames. */
async function shown(file: string): Promise<Shown> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-of', 'json'],
    ...[
      '-show_entries',
      'stream=width,height,sample_aspect_ratio,nb_read_frames:stream_side_data=rotation',
      file,
    ],
  ]);
  const s = JSON.parse(stdout).streams[0] as {
    width: number;
    height: number;
    sample_aspect_ratio?: string;
    nb_read_frames: string;
    side_data_list?: { rotation?: number }[];
  };
  const [n, d] = (s.sample_aspect_ratio ?? '1:1').split(':').map(Number) as [number, number];
  return {
    width: s.width,
    height: s.height,
    sar: n > 0 && d > 0 ? n / d : 1,
    rotation: s.side_data_list?.find((x) => x.rotation !== undefined)?.rotation ?? 0,
    frames: Number(s.nb_read_frames),
  };
}

/** The size a viewer sees: pixels stretched by the aspect ratio, turned by the rotation. */
function displayed(s: Shown): { width: number; height: number } {
  const width = s.width * s.sar;
  return Math.abs(s.rotation) % 180 === 90 ? { width: s.height, height: width } : { width, height: s.height };
}

/** Mean luma PSNR of `output` against `source` as ffmpeg shows it, scaled to `width`x`height`. */
async function psnrAgainstSource(
  output: string,
  source: string,
  width: number,
  height: number,
): Promise<number> {
  const { stderr } = await run('ffmpeg', [
    ...['-hide_banner', '-nostdin', '-v', 'info', '-i', output, '-i', source],
    ...['-lavfi', `[1:v]scale=${width}:${height},setsar=1[s];[0:v]setsar=1[o];[o][s]psnr`, '-f', 'null', '-'],
  ]);
  const m = /PSNR y:([\d.]+|inf)/.exec(stderr);
  assert.ok(m, `psnr of ${output}: ${stderr}`);
  return m[1] === 'inf' ? 100 : Number(m[1]);
}

/** Asserts one rung (a media playlist) is shown as the source is shown. */
async function checkShownLikeSource(playlist: string, source: string, resolution?: string): Promise<Shown> {
  const src = await shown(source);
  const want = displayed(src);
  const out = await shown(playlist);
  const label = `${playlist} (source coded ${src.width}x${src.height}, SAR ${src.sar}, rotation ${src.rotation}: shown ${want.width}x${want.height})`;
  assert.equal(out.rotation, 0, `${label}: no display matrix left on the output`);
  assert.equal(out.sar, 1, `${label}: square pixels`);
  assert.equal(out.frames, src.frames, `${label}: the source's frames`);
  // The displayed aspect ratio, within the rounding of each side to an even number.
  assert.ok(
    Math.abs(out.width / out.height - want.width / want.height) <= 2 / Math.min(out.width, out.height),
    `${label}: shown ${out.width}x${out.height}`,
  );
  if (resolution) assert.equal(resolution, `${out.width}x${out.height}`, `${label}: RESOLUTION`);
  assert.equal(await decodeErrors(playlist), '', `${label}: decode errors`);
  const psnr = await psnrAgainstSource(playlist, source, out.width, out.height);
  assert.ok(
    psnr >= MIN_PSNR_DB,
    `${label}: ${psnr} dB against the source as shown (turned or stretched wrongly?)`,
  );
  return out;
}

describe('the default ladder shows rotated and anamorphic sources as they are shown', {
  concurrency: 1,
}, () => {
  for (const kind of ['rotated', 'anamorphic'] as const) {
    it(`${kind}: every rung in the source's displayed orientation and aspect ratio, square pixels`, async () => {
      const input = await makeClip(dir, CLIPS[kind]);
      const out = path.join(dir, `${kind}-out`);
      const { variants } = (await encodeLadder(input, out)).master;
      const sizes: string[] = [];
      for (const v of variants) {
        const s = await checkShownLikeSource(path.join(out, v.uri), input, v.attrs.RESOLUTION);
        sizes.push(`${v.uri} ${s.width}x${s.height}`);
      }
      // The top rungs are the source's displayed size (rounded to even), never its coded size.
      const want = displayed(await shown(input));
      const top = `${2 * Math.round(want.width / 2)}x${2 * Math.round(want.height / 2)}`;
      for (const codec of ['av1', 'h264']) {
        const first = variants.find((v) => v.uri.startsWith(codec))!;
        assert.equal(first.attrs.RESOLUTION, top, `${codec} top rung: ${sizes.join(', ')}`);
      }
    });
  }
});

describe('a rotated source read from stream-copied pieces', { concurrency: 1 }, () => {
  // Stream copies of pieces (NUT: S3 and MPEG-TS inputs) carry no display matrix.
  it('the single rendition is portrait too, frame for frame', async () => {
    const input = await makeClip(dir, CLIPS.rotated);
    const out = path.join(dir, 'rotated-copy-out');
    await runPipeline({
      storage: new Storage(),
      input: fileAt(input),
      working: folderAt(path.join(dir, 'rotated-copy-work')),
      output: folderAt(out),
      secondsPerSegment: 1,
      settings: normalizeSettings({ preset: 12, crf: 35 }),
      pieces: 'copy',
      jobs: 2,
    });
    const master = parseMaster(await readFile(path.join(out, 'master.m3u8'), 'utf8'));
    const s = await checkShownLikeSource(
      path.join(out, 'video.m3u8'),
      input,
      master.variants[0]!.attrs.RESOLUTION,
    );
    assert.deepEqual([s.width, s.height], [180, 320]);
    await checkOutput(out, input);
  });
});
