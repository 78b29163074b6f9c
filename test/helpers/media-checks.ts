// Checks on an HLS output against its source, made with ffmpeg/ffprobe on the
// media itself: frame count, content, exact timestamps, key frames, durations.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { run } from './exec.js';
import { assertSameFrames, decodedFrames, decodeErrors, grayFrames } from './frames.js';
import { checkLadderOutput, parseMaster, type RungReport } from './ladder-checks.js';
import { checkStreamInfo } from './stream-checks.js';

/** Lowest luma PSNR an output frame may have against its source frame (fast presets, crf up to 40). */
const MIN_PSNR_DB = 25;

export interface OutputReport {
  frames: number;
  segments: number;
  extinfTotal: number;
  sourceSeconds: number;
  /** Luma PSNR (dB) of each output frame against its source frame. */
  psnr: number[];
  minPsnr: number;
  meanPsnr: number;
  /** A ladder's rungs (then extinfTotal, sourceSeconds and the PSNR fields are not measured). */
  rungs?: RungReport[];
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
 * Asserts the HLS output in `dir` is the source, frame for frame, with every expected value read
 * from the files by ffmpeg/ffprobe (never by src/media): the decoder's frame count of the source,
 * each output frame most like its own source frame by content (a dropped, repeated or shifted
 * frame looks like a neighbour), output timestamps equal to the source's (shifted to 0), no gap
 * over 1.5 frames, each EXTINF equal to its frames' span, every segment starting on a key frame,
 * decode without errors; then the master playlist and audio rendition (see checkStreamInfo).
 */
export async function checkOutput(dir: string, source: string): Promise<OutputReport> {
  // A rendition ladder (variants in folders of their own): the checks of every rung.
  const { variants } = parseMaster(await readFile(path.join(dir, 'master.m3u8'), 'utf8'));
  if (variants.length > 1 || variants.some((v) => v.uri.includes('/'))) {
    const rungs = await checkLadderOutput(dir, source);
    return {
      frames: rungs[0]!.frames,
      segments: rungs[0]!.segments,
      rungs,
      extinfTotal: Number.NaN,
      sourceSeconds: Number.NaN,
      psnr: [],
      minPsnr: Number.NaN,
      meanPsnr: Number.NaN,
    };
  }
  const all = path.join(dir, '..', `${path.basename(dir)}-all.mp4`);
  const playlist = parseMediaPlaylist(await readFile(path.join(dir, 'video.m3u8'), 'utf8'));
  const entries = playlist.entries;
  await concatPlaylist(dir, 'video.m3u8', all);

  // Decodes without errors.
  const errors = await decodeErrors(all);
  assert.equal(errors, '', `decode errors: ${errors}`);

  const meta = await ffprobeJson(['-show_streams', all]);
  assert.equal(meta.streams[0].codec_name, 'av1');

  const out = await decodedFrames(all);
  const src = await decodedFrames(source);
  assert.equal(
    out.length,
    src.length,
    'output frame count equals the frames the decoder gets from the source',
  );

  // Content: output frame i is source frame i.
  const [outGray, srcGray] = await Promise.all([grayFrames(all), grayFrames(source)]);
  assert.equal(srcGray.frames.length, src.length, 'source frames decoded for content');
  assert.deepEqual(
    [outGray.width, outGray.height],
    [srcGray.width, srcGray.height],
    'output shown at the size the source is shown',
  );
  const psnr = assertSameFrames(outGray.frames, srcGray.frames, MIN_PSNR_DB);

  // Timestamps: output time equals source time minus the first frame's.
  const src0 = src[0]!.time;
  const gaps = src.slice(1).map((f, i) => f.time - src[i]!.time);
  const frameSec = gaps[0]!;
  for (let i = 0; i < out.length; i++) {
    const want = src[i]!.time - src0;
    const got = out[i]!.time;
    assert.ok(Math.abs(got - want) < 1e-6, `frame ${i}: output at ${got}s, source at ${want}s`);
    if (i > 0) {
      const gap = got - out[i - 1]!.time;
      assert.ok(
        gap > 0 && gap <= 1.5 * Math.max(frameSec, gaps[i - 1]!) + 1e-9,
        `gap before frame ${i}: ${gap}s`,
      );
    }
  }
  const last = src[src.length - 1]!;
  const lastDuration = Number.isFinite(last.duration) ? last.duration : gaps[gaps.length - 1]!;
  const sourceSeconds = last.time + lastDuration - src0;

  // Segment k starts at frame sum(frames of 0..k-1), on a key frame, and its EXTINF is its frames' span.
  const init = await readFile(path.join(dir, playlist.map!));
  const counts = await Promise.all(entries.map((e) => countPackets(dir, init, e.uri, all)));
  const keys = await keyFlags(all);
  const segmentSeconds: number[] = [];
  let at = 0;
  counts.forEach((c, k) => {
    assert.ok(keys[at], `segment ${k} starts with a key frame`);
    const end = at + c < out.length ? out[at + c]!.time : sourceSeconds;
    segmentSeconds.push(end - out[at]!.time);
    assert.ok(
      Math.abs(entries[k]!.duration - segmentSeconds[k]!) < 1e-5,
      `segment ${k}: EXTINF ${entries[k]!.duration} s, its frames span ${segmentSeconds[k]} s`,
    );
    at += c;
  });
  assert.equal(at, out.length);
  const extinfTotal = entries.reduce((t, e) => t + e.duration, 0);
  assert.ok(
    Math.abs(extinfTotal - sourceSeconds) <= frameSec + 1e-6,
    `EXTINF sum ${extinfTotal} vs source ${sourceSeconds}`,
  );

  await checkStreamInfo(dir, source, {
    all,
    segmentSeconds,
    videoStart: src0,
  });
  return {
    frames: out.length,
    segments: entries.length,
    extinfTotal,
    sourceSeconds,
    psnr,
    minPsnr: Math.min(...psnr),
    meanPsnr: psnr.reduce((a, b) => a + b, 0) / psnr.length,
  };
}

/** The key-frame flag of every video packet, in decode order (ffprobe). */
async function keyFlags(file: string): Promise<boolean[]> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-of', 'csv=p=0', file],
  ]);
  return stdout
    .trim()
    .split('\n')
    .map((l) => l.includes('K'));
}

/** Packets in one media segment, read with the init segment in front of it. */
async function countPackets(dir: string, init: Buffer, uri: string, all: string): Promise<number> {
  const tmp = `${all}.${uri}.mp4`;
  await writeFile(tmp, Buffer.concat([init, await readFile(path.join(dir, uri))]));
  const j = await ffprobeJson(['-count_packets', '-show_entries', 'stream=nb_read_packets', tmp]);
  return Number(j.streams[0].nb_read_packets);
}
