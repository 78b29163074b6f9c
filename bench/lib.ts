// Shared helpers for benchmarks: generated clips, timing, medians, process memory.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { childCommand } from '../src/media/ffmpeg.js';

/** Frames per second of a rate given as a number or a ratio ("30000/1001"). */
export function rateValue(fps: number | string): number {
  const [num, den = 1] = String(fps).split('/').map(Number) as [number, number?];
  return num / den;
}

/** Generates a clip with scene changes (testsrc2 alternating with mandelbrot every 2.5 s). */
export function makeSceneClip(
  out: string,
  width: number,
  height: number,
  seconds: number,
  fps: number | string = 30,
): void {
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `mandelbrot=size=${width}x${height}:rate=${fps}`,
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-filter_complex',
    `[1:v]trim=duration=${seconds},setpts=PTS-STARTPTS[m];[0:v][m]blend=all_expr='if(lt(mod(T\\,5)\\,2.5)\\,A\\,B)'[v]`,
    '-map',
    '[v]',
    '-map',
    '2:a',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-g',
    String(Math.round(rateValue(fps) * 2)),
    '-c:a',
    'aac',
    out,
  ]);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface RunStats {
  seconds: number;
  /** CPU seconds of the process tree (user + sys), from /proc. */
  cpuSeconds: number;
  /** Peak RSS (MiB) of the node process itself, ffmpeg children excluded. */
  peakNodeRssMiB: number;
}

function procTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime, stime, cutime, cstime are fields 14..17 (index 11..14 after the comm split).
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs a command, sampling the RSS of the top process; CPU time from its children accounting. */
export function runMeasured(cmd: string, args: string[]): Promise<RunStats> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-4000);
    });
    let peak = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, rssMiB(child.pid!));
      ticks = Math.max(ticks, procTicks(child.pid!));
    }, 100);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${err}`));
      resolve({ seconds, cpuSeconds: ticks / 100, peakNodeRssMiB: peak });
    });
  });
}

/**
 * Runs a baseline ffmpeg command (measured as runMeasured measures) the way the
 * workers run theirs (childCommand): never at real-time priority. As root,
 * SVT-AV1 otherwise runs its threads at SCHED_FIFO 99, and the baseline would
 * take the cores from every other process while avspl1t's encoders share them.
 */
export function runMeasuredFfmpeg(args: string[]): Promise<RunStats> {
  const [cmd, argv] = childCommand('ffmpeg', args);
  return runMeasured(cmd, argv);
}

export const machine = () => ({
  cpus: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  ffmpeg: execFileSync('ffmpeg', ['-version']).toString().split('\n')[0],
  loadavg: os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' '),
});
