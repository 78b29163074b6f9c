// The default ladder: `avspl1t encode` (2 local workers by default) against one
// ffmpeg command writing the same ladder (`-filter_complex split`, one encoder
// per rung with the same settings, caps and key frames, `-var_stream_map`, HLS
// fMP4). Runs alternate; prints the wall time ratio and writes
// bench/ladder-results.json. Not part of `npm run bench` (run it on a quiet machine):
//   node dist/bench/ladder.js --runs=5 --seconds=30 [--jobs=2] [--preset=8]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLadder } from '../src/media/ladder.js';
import { encoderArgs, isAv1, normalizeSettings } from '../src/media/settings.js';
import { machine, makeSceneClip, median, runMeasured } from './lib.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const num = (name: string, fallback: number) => Number(args.get(name) ?? fallback);
const runs = num('runs', 3);
const seconds = num('seconds', 30);
const jobs = num('jobs', 2);
const preset = num('preset', 8);
const crf = 30;
const sps = 2;
const fps = 30;

/** Options of one output stream for ffmpeg: `-crf` → `-crf:v:i`, `-profile:v` → `-profile:v:i`. */
function perStream(options: string[], i: number): string[] {
  return options.map((o, k) => {
    const isName = o.startsWith('-') && k % 2 === 0;
    if (!isName) return o;
    return o.endsWith(':v') ? `${o}:${i}` : `${o}:v:${i}`;
  });
}

/** The one ffmpeg command writing the default ladder of a 1280x720 clip as HLS. */
export function ladderCommand(clip: string, out: string): string[] {
  const ladder = defaultLadder(
    { width: 1280, height: 720, fps },
    normalizeSettings({ encoder: 'svt', crf, preset }),
  );
  const split = `[0:v]split=${ladder.length}${ladder.map((_, i) => `[s${i}]`).join('')}`;
  const scales = ladder.map(
    (r, i) =>
      `[s${i}]scale=${r.width}:${r.height}:flags=lanczos+accurate_rnd+full_chroma_int,setsar=1,format=yuv420p[o${i}]`,
  );
  const streams = ladder.flatMap((r, i) => [
    '-map',
    `[o${i}]`,
    ...perStream(encoderArgs(r.settings!, 0, undefined, sps * fps, r.maxBitrateKbps), i),
  ]);
  const names = ladder.map((r) => r.name);
  return [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-i', clip],
    ...['-filter_complex', [split, ...scales].join(';')],
    ...streams,
    ...['-map', '0:a:0', '-c:a', 'aac', '-b:a', '128k'],
    ...['-f', 'hls', '-hls_time', String(sps), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4'],
    '-var_stream_map',
    [...ladder.map((_, i) => `v:${i},agroup:audio,name:${names[i]}`), 'a:0,agroup:audio,name:audio'].join(
      ' ',
    ),
    ...['-master_pl_name', 'master.m3u8', path.join(out, '%v', 'video.m3u8')],
  ];
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-ladder-bench-'));
try {
  const clip = path.join(dir, 'clip.mp4');
  makeSceneClip(clip, 1280, 720, seconds, fps);
  const ffmpeg: number[] = [];
  const avspl1t: number[] = [];
  for (let i = 0; i < runs; i++) {
    ffmpeg.push((await runMeasured('ffmpeg', ladderCommand(clip, path.join(dir, `ffmpeg-${i}`)))).seconds);
    const cmd = [path.join(root, 'bin/avspl1t.js'), 'encode', clip, path.join(dir, `avspl1t-${i}`)];
    const flags = [
      '--seconds-per-segment',
      String(sps),
      '--crf',
      String(crf),
      '--preset',
      String(preset),
      '--jobs',
      String(jobs),
    ];
    avspl1t.push((await runMeasured(process.execPath, [...cmd, ...flags])).seconds);
    console.error(
      `run ${i + 1}/${runs}: ffmpeg ${ffmpeg[i]!.toFixed(1)} s, avspl1t ${avspl1t[i]!.toFixed(1)} s`,
    );
  }
  const ratios = avspl1t.map((a, i) => a / ffmpeg[i]!);
  const result = {
    machine: machine(),
    clip: `1280x720 ${fps} fps ${seconds} s, scene changes, AAC`,
    ladder: defaultLadder(
      { width: 1280, height: 720, fps },
      normalizeSettings({ encoder: 'svt', crf, preset }),
    ).map(
      (r) =>
        `${r.name} ${r.width}x${r.height} ${isAv1(r.settings!.encoder) ? 'svt' : 'x264'} crf ${r.settings!.crf} preset ${r.settings!.preset} max ${r.maxBitrateKbps} kbit/s`,
    ),
    jobs,
    ffmpegSeconds: median(ffmpeg),
    avspl1tSeconds: median(avspl1t),
    ratioMedian: median(ratios),
    ratios,
  };
  writeFileSync(path.join(root, 'bench', 'ladder-results.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
