/**
 * Builds a tiny AV1 + AAC HLS stream (fMP4) with ffmpeg at test time, plus a master playlist with the
 * CODECS attribute that ffmpeg 5.1 leaves out and that Shaka Player needs to accept AV1.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { av1CodecString, av1cFields } from '../../src/media/codec-string.js';
import { av1cOf } from '../../src/media/fragment.js';
import { run } from './exec.js';

/** Options for {@link makeAv1Hls}; the defaults make a 4 s 320x180@30 clip in two 2 s segments. */
export interface Av1HlsOptions {
  seconds?: number;
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in frames; should divide `segmentSeconds * fps`. */
  gop?: number;
  segmentSeconds?: number;
  audio?: boolean;
}

/** The stream that {@link makeAv1Hls} wrote. */
export interface Av1Hls {
  /** `master.m3u8` in the output directory. */
  masterPath: string;
  /** `index.m3u8`, the media playlist. */
  mediaPath: string;
  /** The CODECS value written to the master playlist, e.g. `av01.0.00M.08,mp4a.40.2`. */
  codecs: string;
  /** Number of video frames encoded (seconds × fps). */
  frameCount: number;
  seconds: number;
  segmentCount: number;
}

/** Encodes a test pattern (and a 440 Hz tone) to AV1 HLS in `dir`, which must exist. */
export async function makeAv1Hls(dir: string, options: Av1HlsOptions = {}): Promise<Av1Hls> {
  const { seconds = 4, width = 320, height = 180, fps = 30, segmentSeconds = 2, audio = true } = options;
  const gop = options.gop ?? segmentSeconds * fps;
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  args.push('-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`);
  if (audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  args.push('-t', String(seconds), '-c:v', 'libsvtav1', '-preset', '12', '-g', String(gop));
  args.push('-pix_fmt', 'yuv420p');
  if (audio) args.push('-c:a', 'aac', '-b:a', '64k');
  args.push('-f', 'hls', '-hls_time', String(segmentSeconds), '-hls_segment_type', 'fmp4');
  args.push('-hls_playlist_type', 'vod', join(dir, 'index.m3u8'));
  await run('ffmpeg', args, { timeoutMs: 120_000 });

  const codecs = [av1CodecString(av1cFields(av1cOf(await readFile(join(dir, 'init.mp4')))))];
  if (audio) codecs.push('mp4a.40.2');
  const segments = (await readdir(dir)).filter((name) => name.endsWith('.m4s'));
  const sizes = await Promise.all(segments.map(async (name) => (await stat(join(dir, name))).size));
  const peakBandwidth = Math.ceil((Math.max(...sizes) * 8) / segmentSeconds);
  const master = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-STREAM-INF:BANDWIDTH=${peakBandwidth},RESOLUTION=${width}x${height},` +
      `FRAME-RATE=${fps.toFixed(3)},CODECS="${codecs.join(',')}"`,
    'index.m3u8',
    '',
  ].join('\n');
  const masterPath = join(dir, 'master.m3u8');
  await writeFile(masterPath, master);
  return {
    masterPath,
    mediaPath: join(dir, 'index.m3u8'),
    codecs: codecs.join(','),
    frameCount: seconds * fps,
    seconds,
    segmentCount: segments.length,
  };
}
