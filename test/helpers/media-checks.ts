// Checks on an HLS output against its source, made with ffmpeg/ffprobe on the
// media itself: frame count, exact timestamps, key frames, durations, PSNR.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { framesFromPackets, probePackets } from '../../src/media/probe.js';
import { run } from './exec.js';

export interface OutputReport {
  frames: number;
  segments: number;
  extinfTotal: number;
  sourceSeconds: number;
  psnr: number[];
  minPsnr: number;
  meanPsnr: number;
}

// biome-ignore lint/suspicious/noExplicitAny: ffprobe JSON, read field by field in the checks
async function ffprobeJson(args: string[]): Promise<any> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', ...args]);
  return JSON.parse(stdout);
}

/** Concatenates init + all media segments of a media playlist into one MP4 file. */
export async function concatPlaylist(dir: string, playlist: string, out: string): Promise<string[]> {
  const parsed = parseMediaPlaylist(await readFile(path.join(dir, playlist), 'utf8'));
  const parts = [parsed.map!, ...parsed.entries.map((e) => e.uri)];
  await writeFile(out, Buffer.concat(await Promise.all(parts.map((p) => readFile(path.join(dir, p))))));
  return parsed.entries.map((e) => e.uri);
}

/**
 * Asserts the HLS output in `dir` is the source, frame for frame: same frame count,
 * output timestamps equal to the source's (shifted to 0), no gap over 1.5 frames,
 * EXTINF sum = source duration within a frame, every segment starting on a key
 * frame, decode without errors, and no PSNR outlier frame.
 */
export async function checkOutput(dir: string, source: string): Promise<OutputReport> {
  const all = path.join(dir, '..', `${path.basename(dir)}-all.mp4`);
  const playlist = parseMediaPlaylist(await readFile(path.join(dir, 'video.m3u8'), 'utf8'));
  const entries = playlist.entries;
  await concatPlaylist(dir, 'video.m3u8', all);

  // Decodes without errors.
  const dec = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-i', all, '-f', 'null', '-']);
  assert.equal(dec.stderr.trim(), '', `decode errors: ${dec.stderr}`);

  const meta = await ffprobeJson(['-show_streams', all]);
  const vs = meta.streams[0];
  assert.equal(vs.codec_name, 'av1');
  const srcMeta = await ffprobeJson(['-select_streams', 'v:0', '-show_streams', source]);
  const srcTb = srcMeta.streams[0].time_base.split('/').map(Number) as [number, number];

  const out = framesFromPackets(await probePackets(all));
  const src = framesFromPackets(await probePackets(source));
  assert.equal(out.length, src.length, 'output frame count equals the source frame count');

  // Timestamps: output time (seconds) equals source time minus the first frame's.
  const outTb = vs.time_base.split('/').map(Number) as [number, number];
  const sec = (t: number, tb: [number, number]) => (t * tb[0]) / tb[1];
  const src0 = src[0]!.pts;
  const frameSec = sec(src[1]!.pts - src0, srcTb);
  for (let i = 0; i < out.length; i++) {
    const want = sec(src[i]!.pts - src0, srcTb);
    const got = sec(out[i]!.pts, outTb);
    assert.ok(Math.abs(got - want) < 1e-6, `frame ${i}: output at ${got}s, source at ${want}s`);
    if (i > 0) {
      const gap = got - sec(out[i - 1]!.pts, outTb);
      assert.ok(
        gap > 0 && gap <= 1.5 * Math.max(frameSec, sec(src[i]!.pts - src[i - 1]!.pts, srcTb)) + 1e-9,
        `gap before frame ${i}: ${gap}s`,
      );
    }
  }

  // Every segment starts with a key frame: segment k starts at frame sum(frames of 0..k-1).
  const init = await readFile(path.join(dir, playlist.map!));
  const counts = await Promise.all(entries.map((e) => countPackets(dir, init, e.uri, all)));
  let at = 0;
  counts.forEach((c, k) => {
    assert.ok(out.find((f) => f.decodeIndex === at)?.key, `segment ${k} starts with a key frame`);
    at += c;
  });
  assert.equal(at, out.length);

  const last = src[src.length - 1]!;
  const sourceSeconds = sec(last.pts + last.duration - src0, srcTb);
  const extinfTotal = entries.reduce((t, e) => t + e.duration, 0);
  assert.ok(
    Math.abs(extinfTotal - sourceSeconds) <= frameSec + 1e-6,
    `EXTINF sum ${extinfTotal} vs source ${sourceSeconds}`,
  );

  const psnr = await framePsnr(all, source, vs.pix_fmt);
  assert.equal(psnr.length, src.length, 'PSNR compared every frame');
  const sorted = [...psnr].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const minPsnr = sorted[0]!;
  assert.ok(
    minPsnr > 20 && minPsnr > median - 8,
    `PSNR outlier: min ${minPsnr.toFixed(2)} dB, median ${median.toFixed(2)} dB`,
  );
  return {
    frames: out.length,
    segments: entries.length,
    extinfTotal,
    sourceSeconds,
    psnr,
    minPsnr,
    meanPsnr: psnr.reduce((a, b) => a + b, 0) / psnr.length,
  };
}

/** Packets in one media segment, read with the init segment in front of it. */
async function countPackets(dir: string, init: Buffer, uri: string, all: string): Promise<number> {
  const tmp = `${all}.${uri}.mp4`;
  await writeFile(tmp, Buffer.concat([init, await readFile(path.join(dir, uri))]));
  const j = await ffprobeJson(['-count_packets', '-show_entries', 'stream=nb_read_packets', tmp]);
  return Number(j.streams[0].nb_read_packets);
}

/** Per-frame PSNR (average over planes) of `a` against `b`, frames paired in order. */
export async function framePsnr(a: string, b: string, pixFmt = 'yuv420p'): Promise<number[]> {
  const stats = `${a}.psnr.txt`;
  const norm = `setpts=N/(30*TB),format=${pixFmt}`;
  await run(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-i',
      a,
      '-i',
      b,
      '-lavfi',
      `[0:v]${norm}[a];[1:v]${norm}[b];[a][b]psnr=stats_file=${stats}`,
      '-f',
      'null',
      '-',
    ],
    { timeoutMs: 300_000 },
  );
  const text = await readFile(stats, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const v = /psnr_avg:(\S+)/.exec(l)?.[1] ?? 'nan';
      return v === 'inf' ? 100 : Number(v);
    });
}
