// The scale-out simulation with ladder-shaped jobs: the task durations of a
// 10-minute 1080p job with the default ladder, measured with the real media
// operations on this machine (split, audio, one segment of every rung), then
// replayed by bench/scale-out.ts's simulated fleet against the real coordinator.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { EncoderSettingsSchema } from '../src/gen/avspl1t/v1/media_pb.js';
import { encode, encodeAudio, split } from '../src/media/index.js';
import { codecOf, defaultLadder } from '../src/media/ladder.js';
import { X264_PRESETS } from '../src/media/settings.js';
import { fileAt, folderAt, Storage } from '../src/storage/index.js';
import { makeSceneClip } from './lib.js';
import type { JobProfile, LadderShape } from './scale-out.js';

/** One rung of the simulated ladder: its measured encode of one segment and the modelled seconds the simulation uses. */
export interface RungCost {
  name: string;
  width: number;
  height: number;
  codec: 'av1' | 'h264';
  /** Wall seconds of one 2 s segment's encode (the fastest of `tries`), all cores. */
  measuredSeconds: number;
  /** pixels × the codec's factor: what the simulation replays. */
  seconds: number;
}

export interface LadderProfile extends JobProfile {
  rungs: RungCost[];
  /** Seconds per megapixel of one 2 s segment, per codec: Σ measured / Σ megapixels of its rungs. */
  secondsPerMegapixel: { av1: number; h264: number };
  /** 1-minute load average while measuring. */
  load: number;
}

const SOURCE = { width: 1920, height: 1080, fps: 30 };

/** The shape runScaleOut replays for a ladder profile. */
export function ladderShape(p: LadderProfile): LadderShape {
  return {
    sourceSize: { width: SOURCE.width, height: SOURCE.height },
    rungSeconds: new Map(p.rungs.map((r) => [r.name, r.seconds])),
  };
}

/**
 * Measures, on a `jobSeconds` 1920x1080 scene source (a `clipSeconds` clip repeated
 * by stream-copy concatenation): the split into ranges, the audio, and one
 * segment's encode for every rung of the default ladder (the fastest of `tries`).
 * Each rung's simulated cost is its pixels × its codec's seconds per pixel, the
 * factor fitted to the measured rungs of that codec.
 */
export async function measureLadderProfile(
  jobSeconds = 600,
  clipSeconds = 10,
  preset = 8,
  tries = 2,
): Promise<LadderProfile> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-scale-ladder-'));
  const load0 = os.loadavg()[0]!;
  try {
    const clip = path.join(dir, 'clip.mp4');
    makeSceneClip(clip, SOURCE.width, SOURCE.height, clipSeconds, SOURCE.fps);
    const long = path.join(dir, 'long.mp4');
    const list = path.join(dir, 'list.txt');
    writeFileSync(
      list,
      Array.from({ length: Math.ceil(jobSeconds / clipSeconds) }, () => `file '${clip}'\n`).join(''),
    );
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', long]);
    const storage = new Storage();
    let n = 0;
    const ctx = () => {
      const tmpDir = path.join(dir, `task-${n++}`);
      mkdirSync(tmpDir);
      return { storage, tmpDir };
    };
    const timed = async <T>(fn: () => Promise<T>) => {
      const t0 = performance.now();
      const value = await fn();
      return { value, seconds: (performance.now() - t0) / 1000 };
    };
    const input = fileAt(long);
    const sps = 2;
    const cut = await timed(() =>
      split({ input, working: folderAt(path.join(dir, 'work')), secondsPerSegment: sps }, ctx()),
    );
    const source = cut.value.source!;
    const audio = await timed(() =>
      encodeAudio(
        { input, source, output: folderAt(path.join(dir, 'audio')), secondsPerSegment: sps },
        ctx(),
      ),
    );
    const settings = create(EncoderSettingsSchema, { encoder: 'svt', crf: 30, preset });
    const ladder = defaultLadder(SOURCE, settings);
    const measured: Omit<RungCost, 'seconds'>[] = [];
    for (const rendition of ladder) {
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < tries; i++) {
        const run = await timed(() =>
          encode(
            {
              pieces: [cut.value.pieces[1]!],
              source,
              output: folderAt(path.join(dir, 'out', rendition.name, String(i))),
              settings: rendition.settings!,
              rendition,
            },
            ctx(),
          ),
        );
        best = Math.min(best, run.seconds);
      }
      measured.push({
        name: rendition.name,
        width: rendition.width,
        height: rendition.height,
        codec: codecOf(rendition.settings!.encoder),
        measuredSeconds: best,
      });
    }
    const factor = (codec: 'av1' | 'h264') => {
      const of = measured.filter((r) => r.codec === codec);
      const megapixels = of.reduce((t, r) => t + (r.width * r.height) / 1e6, 0);
      return of.reduce((t, r) => t + r.measuredSeconds, 0) / megapixels;
    };
    const secondsPerMegapixel = { av1: factor('av1'), h264: factor('h264') };
    const rungs = measured.map((r) => ({
      ...r,
      seconds: ((r.width * r.height) / 1e6) * secondsPerMegapixel[r.codec],
    }));
    const load = (load0 + os.loadavg()[0]!) / 2;
    return {
      segments: cut.value.pieces.length,
      splitSeconds: cut.seconds,
      encodeSeconds: rungs.reduce((t, r) => t + r.seconds, 0) / rungs.length,
      audioSeconds: audio.seconds,
      manifestSeconds: 1,
      rungs,
      secondsPerMegapixel,
      load,
      how:
        `measured here (load average ~${load.toFixed(1)}) with the real operations on a ${jobSeconds} s 1920x1080 scene source ` +
        `(a ${clipSeconds} s clip repeated by stream-copy concatenation): split into ranges ${cut.seconds.toFixed(2)} s, ` +
        `audio ${audio.seconds.toFixed(2)} s; one 2 s segment of every rung of the default ladder (libsvtav1 preset ${preset} ` +
        `crf 30, x264 ${X264_PRESETS[ladder.at(-1)!.settings!.preset]} crf 23, capped, all cores, fastest of ${tries}); manifest assumed 1 s`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
