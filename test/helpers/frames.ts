// The frames of a video as a decoder sees them, read with ffprobe/ffmpeg alone (never with
// src/media/probe.ts): decoded timestamps, and the picture of each frame to compare by content.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { run } from './exec.js';

/** One decoded frame: presentation time in seconds and duration in seconds (NaN when unknown). */
export interface DecodedFrame {
  time: number;
  duration: number;
}

/** What ffmpeg prints decoding every frame of `file` (a file or a playlist): '' when it decodes cleanly. */
export async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-i',
    file,
    '-f',
    'null',
    '-',
  ]);
  return stderr.trim();
}

/** Every frame the decoder outputs for the first video stream, in presentation order (ffprobe -show_frames). */
export async function decodedFrames(file: string): Promise<DecodedFrame[]> {
  const { stdout } = await run(
    'ffprobe',
    [
      ...['-v', 'error', '-select_streams', 'v:0', '-of', 'json'],
      ...['-show_entries', 'stream=time_base:frame=best_effort_timestamp,duration,pkt_duration', file],
    ],
    { timeoutMs: 120_000 },
  );
  const j = JSON.parse(stdout) as {
    streams: { time_base: string }[];
    frames: { best_effort_timestamp?: number; duration?: number; pkt_duration?: number }[];
  };
  const [num, den] = j.streams[0]!.time_base.split('/').map(Number) as [number, number];
  const sec = (ticks: number | undefined) => (ticks === undefined ? Number.NaN : (ticks * num) / den);
  return j.frames.map((f) => ({
    time: sec(f.best_effort_timestamp),
    duration: sec(f.duration ?? f.pkt_duration),
  }));
}

/**
 * The luma plane of every decoded frame (8-bit gray, full size), in output order, nothing dropped or
 * repeated: as ffmpeg shows the file, turned by its display matrix and stretched to square pixels
 * (the width times the pixel aspect ratio, rounded to even, when that is not 1).
 */
export async function grayFrames(file: string): Promise<{ width: number; height: number; frames: Buffer[] }> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-of', 'json'],
    ...['-show_entries', 'stream=width,height,sample_aspect_ratio:stream_side_data=rotation', file],
  ]);
  // MPEG-TS lists the stream twice (in its program and alone): the first is enough.
  const s = JSON.parse(stdout).streams[0] as {
    width: number;
    height: number;
    sample_aspect_ratio?: string;
    side_data_list?: { rotation?: number }[];
  };
  const [n, d] = (s.sample_aspect_ratio ?? '1:1').split(':').map(Number) as [number, number];
  const square = !(n > 0 && d > 0) || n === d;
  const shownWidth = square ? s.width : 2 * Math.round((s.width * n) / d / 2);
  const rotation = s.side_data_list?.find((x) => x.rotation !== undefined)?.rotation ?? 0;
  const [width, height] = Math.abs(rotation) % 180 === 90 ? [s.height, shownWidth] : [shownWidth, s.height];
  const filter = square ? 'format=gray' : `scale=${width}:${height},format=gray`;
  const raw = await new Promise<Buffer>((resolve, reject) => {
    execFile(
      'ffmpeg',
      [
        ...['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-map', '0:v:0'],
        ...['-fps_mode', 'passthrough', '-vf', filter, '-f', 'rawvideo', 'pipe:1'],
      ],
      { encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024, timeout: 120_000, killSignal: 'SIGKILL' },
      (error, out, err) => (error ? reject(new Error(`ffmpeg ${file}: ${err.toString()}`)) : resolve(out)),
    );
  });
  const size = width * height;
  assert.equal(raw.length % size, 0, `${file}: raw gray output is whole frames`);
  const frames: Buffer[] = [];
  for (let at = 0; at < raw.length; at += size) frames.push(raw.subarray(at, at + size));
  return { width, height, frames };
}

/** PSNR in dB of two equal-size gray pictures (100 when identical). */
export function grayPsnr(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  if (sum === 0) return 100;
  return 10 * Math.log10((255 * 255 * a.length) / sum);
}

/** How many frames on each side of frame i the content match looks at. */
export const MATCH_WINDOW = 3;

/**
 * Compares output frame i with source frames i-3..i+3 by content. Each output frame must
 * look most like source frame i (a dropped, repeated or shifted frame looks like a neighbour),
 * and be at least `minPsnr` dB from it. Returns the PSNR of each output frame against its source frame.
 */
export function assertSameFrames(output: Buffer[], source: Buffer[], minPsnr: number): number[] {
  assert.equal(output.length, source.length, 'output and source decode to the same number of frames');
  return output.map((frame, i) => {
    let best = i;
    let bestPsnr = Number.NEGATIVE_INFINITY;
    const own = grayPsnr(frame, source[i]!);
    for (let j = Math.max(0, i - MATCH_WINDOW); j <= Math.min(source.length - 1, i + MATCH_WINDOW); j++) {
      const p = j === i ? own : grayPsnr(frame, source[j]!);
      if (p > bestPsnr) [best, bestPsnr] = [j, p];
    }
    assert.equal(
      best,
      i,
      `output frame ${i} looks most like source frame ${best} (${bestPsnr.toFixed(2)} dB vs ${own.toFixed(2)} dB)`,
    );
    assert.ok(own >= minPsnr, `output frame ${i}: ${own.toFixed(2)} dB against source frame ${i}`);
    return own;
  });
}

/** pts (in seconds) and key flag of every video packet of a file, in decode order, read by ffprobe. */
export async function videoPackets(file: string): Promise<{ pts: number; key: boolean }[]> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0'],
    file,
  ]);
  return stdout
    .trim()
    .split('\n')
    .map((l) => {
      const [pts, flags] = l.split(',');
      return { pts: Number(pts), key: (flags ?? '').includes('K') };
    });
}
