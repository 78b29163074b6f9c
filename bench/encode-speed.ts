// Encode speed of the in-process pipeline (split → encodes → manifest) against one
// ffmpeg command with the same encoder, preset, CRF and key-frame interval, on a
// generated 720p clip with scene changes. Run: npm run build && node dist/bench/encode-speed.js [seconds]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { normalizeSettings, runPipeline } from '../src/media/index.js';
import { fileAt, folderAt, Storage } from '../src/storage/index.js';

const seconds = Number(process.argv[2] ?? 10);
const preset = Number(process.argv[3] ?? 8);
const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-bench-'));
const src = path.join(dir, 'src.mp4');
// Scene changes: alternate between two test patterns every 2.5 s.
execFileSync('ffmpeg', [
  '-hide_banner',
  '-loglevel',
  'error',
  '-y',
  '-f',
  'lavfi',
  '-i',
  `testsrc2=size=1280x720:rate=30:duration=${seconds}`,
  '-f',
  'lavfi',
  '-i',
  `mandelbrot=size=1280x720:rate=30`,
  '-filter_complex',
  `[1:v]trim=duration=${seconds},setpts=PTS-STARTPTS[m];[0:v][m]blend=all_expr='if(lt(mod(T\\,5)\\,2.5)\\,A\\,B)'`,
  '-c:v',
  'libx264',
  '-preset',
  'veryfast',
  '-g',
  '60',
  src,
]);
const frames = seconds * 30;

function time<T>(fn: () => T): [T, number] {
  const t = process.hrtime.bigint();
  const r = fn();
  return [r, Number(process.hrtime.bigint() - t) / 1e9];
}

const [, direct] = time(() =>
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-i',
    src,
    '-c:v',
    'libsvtav1',
    '-crf',
    '30',
    '-preset',
    String(preset),
    '-g',
    '60',
    '-svtav1-params',
    'scd=0',
    '-f',
    'mp4',
    path.join(dir, 'direct.mp4'),
  ]),
);
const t0 = process.hrtime.bigint();
await runPipeline({
  storage: new Storage(),
  input: fileAt(src),
  working: folderAt(path.join(dir, 'work')),
  output: folderAt(path.join(dir, 'out')),
  secondsPerSegment: 2,
  settings: normalizeSettings({ crf: 30, preset }),
  jobs: os.availableParallelism(),
});
const pipeline = Number(process.hrtime.bigint() - t0) / 1e9;
const report = {
  clip: `1280x720 30 fps ${seconds} s`,
  preset,
  cores: os.availableParallelism(),
  directSeconds: direct,
  directFps: frames / direct,
  pipelineSeconds: pipeline,
  pipelineFps: frames / pipeline,
  ratio: pipeline / direct,
};
console.log(JSON.stringify(report, null, 2));
writeFileSync(path.join(process.cwd(), 'bench', 'encode-speed.json'), JSON.stringify(report, null, 2));
rmSync(dir, { recursive: true, force: true });
