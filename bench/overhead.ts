// Single-machine overhead against one ffmpeg command, and split quality, on a
// generated 720p clip with scene changes; the fixed costs on a short clip. Every timing is a ratio against a
// baseline run in the same script; runs alternate; medians are reported.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMediaPlaylist } from '../src/media/hls.js';
import { makeSceneClip, median, rateValue, runMeasured, runMeasuredFfmpeg } from './lib.js';

export interface OverheadOptions {
  /** The repository root (for bin/avspl1t.js). */
  root: string;
  /** Scratch directory. */
  dir: string;
  seconds: number;
  runs: number;
  preset: number;
}

/** Runs the overhead comparison and the split quality check on its first output. */
export async function runOverhead({ root, dir, seconds, runs, preset }: OverheadOptions) {
  const crf = 30;
  const sps = 2;
  const fps = 30;
  const clip = path.join(dir, 'clip.mp4');
  makeSceneClip(clip, 1280, 720, seconds, fps);
  const frames = seconds * fps;

  const direct = (out: string) =>
    runMeasuredFfmpeg([
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-i',
      clip,
      '-c:v',
      'libsvtav1',
      '-crf',
      String(crf),
      '-preset',
      String(preset),
      '-g',
      String(sps * fps),
      '-svtav1-params',
      'scd=0',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      out,
    ]);
  const avspl1t = (out: string) =>
    runMeasured(process.execPath, [
      path.join(root, 'bin/avspl1t.js'),
      'encode',
      clip,
      out,
      '--seconds-per-segment',
      String(sps),
      '--crf',
      String(crf),
      '--preset',
      String(preset),
      // One AV1 rendition, as the baseline command writes.
      '--ladder',
      'single',
    ]);

  // 1. Overhead: alternate baseline and avspl1t runs.
  const d: Awaited<ReturnType<typeof direct>>[] = [];
  const a: Awaited<ReturnType<typeof avspl1t>>[] = [];
  for (let i = 0; i < runs; i++) {
    d.push(await direct(path.join(dir, `direct-${i}.mp4`)));
    a.push(await avspl1t(path.join(dir, `hls-${i}`)));
    console.error(
      `run ${i + 1}/${runs}: ffmpeg ${d[i]!.seconds.toFixed(1)} s, avspl1t ${a[i]!.seconds.toFixed(1)} s`,
    );
  }
  const ratios = a.map((x, i) => x.seconds / d[i]!.seconds);
  const cores = os.availableParallelism();
  const overhead = {
    clip: `1280x720 ${fps} fps ${seconds} s, scene changes, AAC`,
    settings: `libsvtav1 preset ${preset} crf ${crf}, key frame every ${sps} s, ${cores} local workers`,
    ffmpegSeconds: median(d.map((x) => x.seconds)),
    avspl1tSeconds: median(a.map((x) => x.seconds)),
    ratioMedian: median(ratios),
    ratios,
    ffmpegCpuUtilisation: median(d.map((x) => x.cpuSeconds / (x.seconds * cores))),
    avspl1tCpuUtilisation: median(a.map((x) => x.cpuSeconds / (x.seconds * cores))),
    avspl1tPeakRssMiB: Math.max(...a.map((x) => x.peakNodeRssMiB)),
    avspl1tFps: frames / median(a.map((x) => x.seconds)),
    ffmpegFps: frames / median(d.map((x) => x.seconds)),
  };

  // 4. Split quality: the whole avspl1t output against a direct encode with the same key frames.
  const hls = path.join(dir, 'hls-0');
  const pl = parseMediaPlaylist(readFileSync(path.join(hls, 'video.m3u8'), 'utf8'));
  const joined = path.join(dir, 'joined.mp4');
  writeFileSync(
    joined,
    Buffer.concat([pl.map!, ...pl.entries.map((e) => e.uri)].map((f) => readFileSync(path.join(hls, f)))),
  );
  const directVideo = path.join(dir, 'direct-0.mp4');

  /** PSNR (average, dB) and SSIM (All) of `file` against the clip, frames paired in order. */
  function metrics(file: string): { psnr: number; ssim: number } {
    const run = (metric: 'psnr' | 'ssim') =>
      spawnSync(
        'ffmpeg',
        [
          '-hide_banner',
          '-nostdin',
          '-i',
          file,
          '-i',
          clip,
          '-lavfi',
          `[0:v]setpts=N/(30*TB)[a];[1:v]setpts=N/(30*TB)[b];[a][b]${metric}`,
          '-f',
          'null',
          '-',
        ],
        { encoding: 'utf8' },
      ).stderr;
    return {
      psnr: Number(/PSNR .*average:(\S+)/.exec(run('psnr'))?.[1]),
      ssim: Number(/SSIM .*All:(\S+)/.exec(run('ssim'))?.[1]),
    };
  }
  const videoBytes = (file: string) =>
    Number(
      execFileSync('ffprobe', [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'packet=size',
        '-of',
        'csv=p=0',
        file,
      ])
        .toString()
        .split('\n')
        .filter(Boolean)
        .reduce((t, x) => t + Number(x), 0),
    );
  const viaSplit = { ...metrics(joined), bytes: videoBytes(joined) };
  const whole = { ...metrics(directVideo), bytes: videoBytes(directVideo) };
  const splitQuality = {
    avspl1t: viaSplit,
    direct: whole,
    psnrDeltaDb: viaSplit.psnr - whole.psnr,
    ssimDelta: viaSplit.ssim - whole.ssim,
    sizeDeltaPercent: ((viaSplit.bytes - whole.bytes) / whole.bytes) * 100,
  };
  return { overhead, splitQuality };
}

export interface ShortOverheadOptions {
  /** The repository root (for bin/avspl1t.js). */
  root: string;
  /** Scratch directory. */
  dir: string;
  runs: number;
}

/**
 * The fixed costs on a short clip (12.5 s 640x360 29.97 fps, AAC, preset 10):
 * `avspl1t encode` against one ffmpeg command writing the same HLS (fMP4 segments
 * of 2 s, a key frame every 2 s), alternating runs.
 */
export async function runShortOverhead({ root, dir, runs }: ShortOverheadOptions) {
  const crf = 30;
  const preset = 10;
  const sps = 2;
  const fps = '30000/1001';
  const seconds = 12.5;
  const clip = path.join(dir, 'short.mp4');
  makeSceneClip(clip, 640, 360, seconds, fps);
  const gop = Math.round(rateValue(fps) * sps);

  const direct = (out: string) => {
    mkdirSync(out, { recursive: true });
    return runMeasuredFfmpeg([
      ...['-hide_banner', '-loglevel', 'error', '-y', '-i', clip],
      ...['-c:v', 'libsvtav1', '-crf', String(crf), '-preset', String(preset), '-g', String(gop)],
      ...['-svtav1-params', 'scd=0', '-c:a', 'aac', '-b:a', '128k'],
      ...['-f', 'hls', '-hls_time', String(sps), '-hls_segment_type', 'fmp4', '-hls_playlist_type', 'vod'],
      path.join(out, 'video.m3u8'),
    ]);
  };
  const avspl1t = (out: string) =>
    runMeasured(process.execPath, [
      path.join(root, 'bin/avspl1t.js'),
      ...['encode', clip, out, '--seconds-per-segment', String(sps)],
      ...['--crf', String(crf), '--preset', String(preset)],
      // One AV1 rendition, as the baseline command writes (the default ladder encodes five).
      ...['--ladder', 'single'],
    ]);

  const d: Awaited<ReturnType<typeof direct>>[] = [];
  const a: Awaited<ReturnType<typeof avspl1t>>[] = [];
  for (let i = 0; i < runs; i++) {
    d.push(await direct(path.join(dir, `short-direct-${i}`)));
    a.push(await avspl1t(path.join(dir, `short-hls-${i}`)));
    sameWorkAsBaseline(path.join(dir, `short-hls-${i}`));
    console.error(
      `short run ${i + 1}/${runs}: ffmpeg ${d[i]!.seconds.toFixed(2)} s, avspl1t ${a[i]!.seconds.toFixed(2)} s`,
    );
  }
  const ratios = a.map((x, i) => x.seconds / d[i]!.seconds);
  return {
    clip: `640x360 29.97 fps ${seconds} s, scene changes, AAC`,
    settings: `libsvtav1 preset ${preset} crf ${crf}, key frame every ${sps} s, HLS (fMP4) from both, ${os.availableParallelism()} local workers`,
    ffmpegSeconds: median(d.map((x) => x.seconds)),
    avspl1tSeconds: median(a.map((x) => x.seconds)),
    ratioMedian: median(ratios),
    ratios,
    ffmpegCpuSeconds: median(d.map((x) => x.cpuSeconds)),
    avspl1tCpuSeconds: median(a.map((x) => x.cpuSeconds)),
  };
}

/**
 * Throws unless the avspl1t output in `hls` has one video rendition, like the baseline
 * command's: a ladder (the default) would do several times the work and say nothing of the fixed costs.
 */
function sameWorkAsBaseline(hls: string): void {
  const master = readFileSync(path.join(hls, 'master.m3u8'), 'utf8');
  const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:')).length;
  if (variants !== 1)
    throw new Error(`short row: avspl1t wrote ${variants} video renditions, the baseline one`);
}
