// Audio: encoded once per job (per-segment AAC would add priming gaps at every
// boundary) to an AAC-LC fMP4 rendition whose segments line up with the video's.
// Output time 0 is the source's first video frame: earlier audio is cut, a late
// start is padded with silence, and the rendition ends with the video.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type AudioRendition, AudioRenditionSchema } from '../gen/avspl1t/v1/media_pb.js';
import type { AudioOptions, OperationContext } from './api.js';
import { AAC_LC_CODEC } from './codec-string.js';
import { binaries, ffmpegBase, run } from './ffmpeg.js';
import { mediaPlaylist, parseMediaPlaylist } from './hls.js';
import { inputArgs } from './input-format.js';
import { withLocalInput } from './local-input.js';
import { PLAYLIST_TYPE } from './manifest.js';

export const AUDIO_PLAYLIST_NAME = 'audio.m3u8';
export const AUDIO_INIT_NAME = 'audio-init.mp4';
export const AUDIO_BITRATE = 128_000;
/** Samples per AAC-LC frame, and so the encoder's priming (ffmpeg's aac: one frame). */
const AAC_FRAME_SAMPLES = 1024;
const RATES = [48000, 44100, 32000, 24000, 22050, 16000];

/** Encodes the input's audio once to an AAC-LC fMP4 HLS rendition aligned with the video segments. */
export async function encodeAudio(opts: AudioOptions, ctx: OperationContext): Promise<AudioRendition> {
  return withLocalInput(opts.input, ctx, undefined, (input) => encodeAudioFrom(input, opts, ctx));
}

/** The audio rendition of `input`, the local path of `opts.input`. */
async function encodeAudioFrom(
  input: string,
  opts: AudioOptions,
  ctx: OperationContext,
): Promise<AudioRendition> {
  const src = opts.source;
  const tb = src.timeBase!;
  const videoStart = (src.startPts * tb.num) / tb.den;
  const videoSeconds = (src.duration * tb.num) / tb.den;
  // The split read them (a source info from before it did: probe here).
  const info =
    src.audioChannels && src.audioSampleRate
      ? { channels: src.audioChannels, sampleRate: src.audioSampleRate }
      : await audioInfo(input, src.demuxer, ctx.signal);
  const channels = Math.min(2, Math.max(1, info.channels));
  const rate = RATES.includes(info.sampleRate) ? info.sampleRate : 48000;
  // The AAC encoder puts one frame of priming samples first, and nothing in fMP4 segments makes a
  // player skip them: take the input from one frame later, so the decoded priming frame fills the
  // first frame's time and every later sample plays at its source time, relative to the first video frame.
  const priming = AAC_FRAME_SAMPLES / rate;
  const dir = path.join(ctx.tmpDir, 'audio');
  await mkdir(dir, { recursive: true });
  const args = [
    ...ffmpegBase(),
    '-copyts',
    ...inputArgs(src.demuxer),
    '-i',
    input,
    '-map',
    '0:a:0',
    '-vn',
    '-sn',
    '-dn',
    '-af',
    `asetpts=PTS-${(videoStart + priming).toFixed(6)}/TB,aresample=${rate}:async=1:first_pts=0`,
    '-t',
    (videoSeconds - priming).toFixed(6),
    '-c:a',
    'aac',
    '-b:a',
    String(AUDIO_BITRATE),
    '-ac',
    String(channels),
    '-ar',
    String(rate),
    '-map_metadata',
    '-1',
    '-fflags',
    '+bitexact',
    '-flags:a',
    '+bitexact',
    '-f',
    'hls',
    '-hls_time',
    String(opts.secondsPerSegment),
    '-hls_playlist_type',
    'vod',
    '-hls_segment_type',
    'fmp4',
    '-hls_fmp4_init_filename',
    AUDIO_INIT_NAME,
    '-hls_segment_filename',
    path.join(dir, 'audio-%05d.m4s'),
    path.join(dir, 'ffmpeg.m3u8'),
  ];
  await run(binaries.ffmpeg, args, { signal: ctx.signal, onStart: ctx.onCommand });
  const parsed = parseMediaPlaylist(await readFile(path.join(dir, 'ffmpeg.m3u8'), 'utf8'));
  if (parsed.entries.length === 0)
    throw new AppError(ErrorKind.Permanent, 'audio encode produced no segments');
  const names = new Set(await readdir(dir));
  const upload = (name: string, type: string) =>
    ctx.storage.upload(path.join(dir, name), opts.output, name, { contentType: type, signal: ctx.signal });
  for (const e of parsed.entries) {
    if (!names.has(e.uri)) throw new AppError(ErrorKind.Internal, `audio segment ${e.uri} missing`);
    await upload(e.uri, 'audio/mp4');
  }
  await upload(AUDIO_INIT_NAME, 'audio/mp4');
  await writeFile(path.join(dir, AUDIO_PLAYLIST_NAME), mediaPlaylist(AUDIO_INIT_NAME, parsed.entries));
  const playlist = await upload(AUDIO_PLAYLIST_NAME, PLAYLIST_TYPE);
  ctx.onProgress?.(1);
  return create(AudioRenditionSchema, {
    playlist,
    codecs: AAC_LC_CODEC,
    channels,
    sampleRate: rate,
    bitrate: AUDIO_BITRATE,
  });
}

async function audioInfo(
  input: string,
  demuxer: string,
  signal?: AbortSignal,
): Promise<{ channels: number; sampleRate: number }> {
  const { stdout } = await run(
    binaries.ffprobe,
    [
      '-v',
      'error',
      ...inputArgs(demuxer),
      '-select_streams',
      'a:0',
      '-show_entries',
      'stream=channels,sample_rate',
      '-of',
      'json',
      input,
    ],
    { signal },
  );
  const s = (JSON.parse(stdout).streams ?? [])[0];
  if (!s) throw new AppError(ErrorKind.Permanent, 'input has no audio stream');
  return { channels: Number(s.channels) || 2, sampleRate: Number(s.sample_rate) || 48000 };
}
