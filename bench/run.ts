// `npm run bench`: single-machine overhead against one ffmpeg command and split
// quality, on a generated 720p clip with scene changes. Every timing is a ratio
// against a baseline run in the same script; runs alternate; medians are reported.
// Writes bench/REPORT.md and bench/results.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMediaPlaylist } from '../src/media/hls.js';
import { machine, makeSceneClip, median, runMeasured } from './lib.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const seconds = Number(args.get('seconds') ?? 30);
const runs = Number(args.get('runs') ?? 3);
const preset = Number(args.get('preset') ?? 8);
const crf = 30;
const sps = 2;
const fps = 30;
const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-bench-'));
const clip = path.join(dir, 'clip.mp4');
makeSceneClip(clip, 1280, 720, seconds, fps);
const frames = seconds * fps;

const direct = (out: string) =>
  runMeasured('ffmpeg', [
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

const results = { date: new Date().toISOString(), machine: machine(), overhead, splitQuality };
writeFileSync(path.join(root, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
const f = (x: number, n = 2) => x.toFixed(n);
const report = `# avspl1t benchmarks

Generated by \`npm run bench\` on ${results.date}. Machine: ${results.machine.cpus}, ${results.machine.cores} cores,
${results.machine.memoryGiB} GiB, Node ${results.machine.node}, ${results.machine.ffmpeg}; load average at the end ${results.machine.loadavg}.
Clip: ${overhead.clip}. Settings: ${overhead.settings}. ${runs} alternating runs, medians.

| measure | result | target |
| --- | --- | --- |
| \`avspl1t encode\` / one ffmpeg command (wall time, median ratio) | **${f(overhead.ratioMedian)}×** (${f(overhead.avspl1tSeconds, 1)} s vs ${f(overhead.ffmpegSeconds, 1)} s; runs ${overhead.ratios.map((r) => f(r)).join(', ')}) | ≤ 1.05× |
| encode speed | avspl1t ${f(overhead.avspl1tFps, 1)} fps, ffmpeg ${f(overhead.ffmpegFps, 1)} fps | |
| CPU utilisation (all cores) | avspl1t ${f(overhead.avspl1tCpuUtilisation * 100, 0)} %, ffmpeg ${f(overhead.ffmpegCpuUtilisation * 100, 0)} % | |
| peak RSS of the avspl1t process (ffmpeg excluded) | ${f(overhead.avspl1tPeakRssMiB, 0)} MiB | |
| split quality: PSNR of split+encode − direct encode (same key frames) | ${f(splitQuality.psnrDeltaDb, 3)} dB (${f(viaSplit.psnr, 3)} vs ${f(whole.psnr, 3)}) | < 0.05 dB |
| split quality: SSIM delta | ${f(splitQuality.ssimDelta, 5)} | |
| split quality: video size delta | ${f(splitQuality.sizeDeltaPercent, 2)} % (${viaSplit.bytes} vs ${whole.bytes} bytes) | < 1 % |
`;
writeFileSync(path.join(root, 'bench', 'REPORT.md'), report);
console.log(report);
rmSync(dir, { recursive: true, force: true });
