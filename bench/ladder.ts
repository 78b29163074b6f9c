// The ladder benchmark (`npm run bench -- --only=ladder`): `avspl1t encode` of a
// ladder (2 local workers) against one ffmpeg command writing the same ladder
// (bench/ladder-command.ts), in alternating pairs, with the ffprobe check that both
// wrote the same rungs. `--ladder-clip=short` is a quick end-to-end check of the
// pipeline (a few seconds of 640x360, two rungs), not the target's row.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toJson } from '@bufbuild/protobuf';
import { type Rendition, RenditionSchema } from '../src/gen/avspl1t/v1/media_pb.js';
import { defaultLadder } from '../src/media/ladder.js';
import { isAv1, normalizeSettings, X264_PRESETS } from '../src/media/settings.js';
import { checkSameRungs, ladderCommand } from './ladder-command.js';
import { makeSceneClip, median, type RunStats, runMeasured, runMeasuredFfmpeg } from './lib.js';

/** The clips the ladder benchmark knows: the target's row and the quick check. */
export const LADDER_CLIPS = {
  '720p': { width: 1280, height: 720, seconds: 30, preset: 8, rungs: 'default' },
  short: { width: 640, height: 360, seconds: 4, preset: 12, rungs: 'two' },
} as const;
export type LadderClip = keyof typeof LADDER_CLIPS;

export interface LadderOptions {
  /** The repository root (for bin/avspl1t.js). */
  root: string;
  /** Scratch directory. */
  dir: string;
  clip: LadderClip;
  /** Pairs of runs (one of each command), alternating which goes first. */
  pairs: number;
  /** Local workers of `avspl1t encode` (--jobs). */
  jobs: number;
  log: (line: string) => void;
}

export interface LadderResult {
  clip: string;
  ladder: string[];
  /** How avspl1t was told the ladder. */
  avspl1tLadder: string;
  jobs: number;
  ffmpegSeconds: number;
  avspl1tSeconds: number;
  ratioMedian: number;
  /** avspl1t / ffmpeg wall time of each pair, in run order. */
  ratios: number[];
  /** Which command ran first in each pair. */
  firsts: ('ffmpeg' | 'avspl1t')[];
  /** CPU seconds (user + system, the process and its children), medians. */
  ffmpegCpuSeconds: number;
  avspl1tCpuSeconds: number;
  /** What ffprobe read of each rung, the same in both outputs. */
  rungs: string[];
  /** 1-minute load average before the first and after the last run. */
  loadBefore: number;
  loadAfter: number;
  date: string;
}

const CRF = 30;
const SECONDS_PER_SEGMENT = 2;
const FPS = 30;

/** The ladder of a clip: the default ladder, or (short) its top AV1 rung and bottom H.264 rung. */
export function clipLadder(clip: LadderClip): Rendition[] {
  const c = LADDER_CLIPS[clip];
  const ladder = defaultLadder(
    { width: c.width, height: c.height, fps: FPS },
    normalizeSettings({ encoder: 'svt', crf: CRF, preset: c.preset }),
  );
  if (c.rungs === 'default') return ladder;
  const h264 = ladder.filter((r) => !isAv1(r.settings!.encoder));
  return [ladder.find((r) => isAv1(r.settings!.encoder))!, h264[h264.length - 1]!];
}

const describeRung = (r: Rendition) =>
  `${r.name} ${r.width}x${r.height} ${isAv1(r.settings!.encoder) ? `svt preset ${r.settings!.preset}` : `x264 ${X264_PRESETS[r.settings!.preset]}`} crf ${r.settings!.crf} max ${r.maxBitrateKbps} kbit/s`;

/** Runs the pairs and the rung check; returns the row for results.json. */
export async function runLadder(o: LadderOptions): Promise<LadderResult> {
  const c = LADDER_CLIPS[o.clip];
  const ladder = clipLadder(o.clip);
  const clip = path.join(o.dir, 'clip.mp4');
  makeSceneClip(clip, c.width, c.height, c.seconds, FPS);
  // The default ladder is what `avspl1t encode` writes without a flag; other ladders go in a file.
  let ladderFlags: string[] = [];
  if (c.rungs !== 'default') {
    const file = path.join(o.dir, 'ladder.json');
    writeFileSync(file, JSON.stringify(ladder.map((r) => toJson(RenditionSchema, r))));
    ladderFlags = ['--ladder', file];
  }
  const ffmpeg = (out: string) =>
    runMeasuredFfmpeg(
      ladderCommand({
        clip,
        source: { width: c.width, height: c.height, fps: FPS },
        ladder,
        secondsPerSegment: SECONDS_PER_SEGMENT,
        out,
      }),
    );
  const avspl1t = (out: string) =>
    runMeasured(process.execPath, [
      ...[path.join(o.root, 'bin/avspl1t.js'), 'encode', clip, out],
      ...['--seconds-per-segment', String(SECONDS_PER_SEGMENT), '--crf', String(CRF)],
      ...['--preset', String(c.preset), '--jobs', String(o.jobs), ...ladderFlags],
    ]);
  const loadBefore = os.loadavg()[0]!;
  const f: RunStats[] = [];
  const a: RunStats[] = [];
  const firsts: LadderResult['firsts'] = [];
  let rungs: string[] = [];
  for (let i = 0; i < o.pairs; i++) {
    const outF = path.join(o.dir, `ffmpeg-${i}`);
    const outA = path.join(o.dir, `avspl1t-${i}`);
    mkdirSync(outF);
    if (i % 2 === 0) {
      f.push(await ffmpeg(outF));
      a.push(await avspl1t(outA));
    } else {
      a.push(await avspl1t(outA));
      f.push(await ffmpeg(outF));
    }
    firsts.push(i % 2 === 0 ? 'ffmpeg' : 'avspl1t');
    if (i === 0) rungs = checkSameRungs(ladder, outA, outF, c.seconds * FPS);
    o.log(
      `ladder ${o.clip} pair ${i + 1}/${o.pairs} (${firsts[i]} first): ffmpeg ${f[i]!.seconds.toFixed(1)} s, ` +
        `avspl1t ${a[i]!.seconds.toFixed(1)} s, ratio ${(a[i]!.seconds / f[i]!.seconds).toFixed(3)}, ` +
        `load ${os.loadavg()[0]!.toFixed(2)}`,
    );
  }
  const ratios = a.map((x, i) => x.seconds / f[i]!.seconds);
  return {
    clip: `${c.width}x${c.height} ${FPS} fps ${c.seconds} s, scene changes, AAC; ${SECONDS_PER_SEGMENT} s segments`,
    ladder: ladder.map(describeRung),
    avspl1tLadder: c.rungs === 'default' ? 'default (no flag)' : '--ladder <file> with these rungs',
    jobs: o.jobs,
    ffmpegSeconds: median(f.map((x) => x.seconds)),
    avspl1tSeconds: median(a.map((x) => x.seconds)),
    ratioMedian: median(ratios),
    ratios,
    firsts,
    ffmpegCpuSeconds: median(f.map((x) => x.cpuSeconds)),
    avspl1tCpuSeconds: median(a.map((x) => x.cpuSeconds)),
    rungs,
    loadBefore,
    loadAfter: os.loadavg()[0]!,
    date: new Date().toISOString(),
  };
}
