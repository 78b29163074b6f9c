// The baseline of the ladder benchmark: one ffmpeg command that writes the same
// ladder as `avspl1t encode` (split filter, one encoder per rung with the rung's
// settings, cap and key frames, audio once, `-var_stream_map`, HLS fMP4), and the
// ffprobe check that two HLS packages hold the same rungs.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Rendition } from '../src/gen/avspl1t/v1/media_pb.js';
import { AUDIO_BITRATE } from '../src/media/audio.js';
import { encoderArgs, isAv1 } from '../src/media/settings.js';

/** The rung's options for output video stream `i`: `-crf` → `-crf:v:i`, `-profile:v` → `-profile:v:i`. */
export function perStream(options: readonly string[], i: number): string[] {
  return options.map((o, k) => {
    if (k % 2 !== 0) return o; // a value
    if (!o.startsWith('-')) throw new Error(`perStream: expected an option name at ${k}, got ${o}`);
    return o.endsWith(':v') ? `${o}:${i}` : `${o}:v:${i}`;
  });
}

export interface LadderCommandOptions {
  clip: string;
  /** The clip's size (bench clips are 8-bit 4:2:0 at a constant frame rate). */
  source: { width: number; height: number; fps: number };
  /** The rungs, sizes filled in (as resolveLadder or defaultLadder return them). */
  ladder: readonly Rendition[];
  secondsPerSegment: number;
  /** Output folder: master.m3u8 and one folder per rung (`<name>/video.m3u8`), `audio/video.m3u8`. */
  out: string;
}

/**
 * ffmpeg arguments writing `ladder` of `clip` as HLS, encoded as avspl1t's workers
 * encode each rung (src/media/encode.ts): the same encoder arguments (encoderArgs:
 * CRF, preset, -maxrate/-bufsize cap, a key frame every segment, no scene-cut key
 * frames), the same Lanczos scale only where the rung is smaller than the source,
 * 8-bit 4:2:0; AAC at the same bit rate, once. Encoder threads are ffmpeg's default
 * (one process using every core is the baseline).
 */
export function ladderCommand(o: LadderCommandOptions): string[] {
  const keyEvery = Math.round(o.secondsPerSegment * o.source.fps);
  const split = `[0:v]split=${o.ladder.length}${o.ladder.map((_, i) => `[s${i}]`).join('')}`;
  const chains = o.ladder.map((r, i) => {
    const scaled = r.width !== o.source.width || r.height !== o.source.height;
    const filters = [
      ...(scaled
        ? [`scale=${r.width}:${r.height}:flags=lanczos+accurate_rnd+full_chroma_int`, 'setsar=1']
        : []),
      // avspl1t keeps a 10-bit source 10-bit in AV1 only; bench clips are 8-bit, so every rung is yuv420p.
      'format=yuv420p',
    ];
    return `[s${i}]${filters.join(',')}[o${i}]`;
  });
  const streams = o.ladder.flatMap((r, i) => [
    '-map',
    `[o${i}]`,
    ...perStream(encoderArgs(r.settings!, 0, undefined, keyEvery, r.maxBitrateKbps), i),
  ]);
  const variants = o.ladder.map((r, i) => `v:${i},agroup:audio,name:${r.name}`);
  return [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', o.clip],
    ...['-filter_complex', [split, ...chains].join(';')],
    ...streams,
    ...['-map', '0:a:0', '-c:a', 'aac', '-b:a', String(AUDIO_BITRATE)],
    ...['-f', 'hls', '-hls_time', String(o.secondsPerSegment), '-hls_playlist_type', 'vod'],
    ...['-hls_segment_type', 'fmp4', '-master_pl_name', 'master.m3u8'],
    ...['-var_stream_map', [...variants, 'a:0,agroup:audio,name:audio'].join(' ')],
    path.join(o.out, '%v', 'video.m3u8'),
  ];
}

/** What ffprobe reads from one rung's media playlist. */
export interface RungFacts {
  codec: string;
  profile: string;
  width: number;
  height: number;
  pixFmt: string;
  frames: number;
  /** Key frame times in seconds after the rung's first frame, rounded to ms. */
  keyTimes: number[];
}

/** Reads a rung's codec, size, frame count and key frame times with ffprobe (through its HLS demuxer). */
export function rungFacts(playlist: string): RungFacts {
  const probe = (entries: string) =>
    JSON.parse(
      execFileSync(
        'ffprobe',
        ['-v', 'error', '-select_streams', 'v:0', '-show_entries', entries, '-of', 'json', playlist],
        { maxBuffer: 256 * 1024 * 1024 },
      ).toString(),
    );
  const stream = probe('stream=codec_name,profile,width,height,pix_fmt').streams[0];
  const packets = (probe('packet=pts_time,flags').packets as { pts_time: string; flags: string }[]).map(
    (p) => ({ pts: Number(p.pts_time), key: p.flags.includes('K') }),
  );
  const first = Math.min(...packets.map((p) => p.pts));
  return {
    codec: stream.codec_name,
    profile: stream.profile,
    width: stream.width,
    height: stream.height,
    pixFmt: stream.pix_fmt,
    frames: packets.length,
    keyTimes: packets
      .filter((p) => p.key)
      .map((p) => Math.round((p.pts - first) * 1000) / 1000)
      .sort((a, b) => a - b),
  };
}

/**
 * Checks that the avspl1t package and the ffmpeg one hold the same rungs (codec,
 * profile, size, pixel format, frame count, key frame times, as ffprobe reads
 * them) and both have AAC audio; returns one line per rung, or throws naming the
 * first difference.
 */
export function checkSameRungs(
  ladder: readonly Rendition[],
  avspl1tOut: string,
  ffmpegOut: string,
  sourceFrames: number,
): string[] {
  const lines = ladder.map((r) => {
    const a = rungFacts(path.join(avspl1tOut, r.name, 'video.m3u8'));
    const b = rungFacts(path.join(ffmpegOut, r.name, 'video.m3u8'));
    const expected = { codec: isAv1(r.settings!.encoder) ? 'av1' : 'h264', width: r.width, height: r.height };
    for (const [who, facts] of [
      ['avspl1t', a],
      ['ffmpeg', b],
    ] as const) {
      const got = { codec: facts.codec, width: facts.width, height: facts.height };
      if (JSON.stringify(got) !== JSON.stringify(expected))
        throw new Error(
          `${r.name}: ${who} wrote ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`,
        );
      if (facts.frames !== sourceFrames)
        throw new Error(`${r.name}: ${who} wrote ${facts.frames} frames, the source has ${sourceFrames}`);
    }
    if (JSON.stringify(a) !== JSON.stringify(b))
      throw new Error(`${r.name}: avspl1t ${JSON.stringify(a)} differs from ffmpeg ${JSON.stringify(b)}`);
    return `${r.name}: ${a.codec} ${a.profile} ${a.width}x${a.height} ${a.pixFmt}, ${a.frames} frames, key frames at ${a.keyTimes.join(', ')} s`;
  });
  for (const [who, playlist] of [
    ['avspl1t', path.join(avspl1tOut, 'audio.m3u8')],
    ['ffmpeg', path.join(ffmpegOut, 'audio', 'video.m3u8')],
  ] as const) {
    const codec = execFileSync('ffprobe', [
      ...['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0'],
      playlist,
    ])
      .toString()
      .trim()
      .split('\n')[0];
    if (codec !== 'aac') throw new Error(`${who}: audio is ${codec || 'missing'}, expected aac`);
  }
  return lines;
}
