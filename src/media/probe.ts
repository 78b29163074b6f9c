// Probes a source with ffprobe (one run): stream facts plus every video packet's
// timestamps and key-frame flag, which the split plans its cuts from.
import { basename } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type SourceInfo, SourceInfoSchema } from '../gen/avspl1t/v1/media_pb.js';
import { binaries, run } from './ffmpeg.js';
import { demuxerOf, inputArgs, refusalFor, refusedFormat } from './input-format.js';
import { parseRatio, type Ratio } from './rational.js';

/** One video frame, in presentation order. */
export interface Frame {
  /** Presentation timestamp in the stream's time base. */
  pts: number;
  /** Position of its packet in decode (file) order. */
  decodeIndex: number;
  key: boolean;
  duration: number;
  /** Coded size of the frame's packet in bytes (0 when unknown). */
  size: number;
  /** Its container timestamp equalled the frame before's: `pts` was moved later to keep it. */
  moved?: boolean;
}

export interface Probe {
  info: SourceInfo;
  timeBase: Ratio;
  frameRate: Ratio;
  frames: Frame[];
  packetCount: number;
  formatName: string;
  audio?: { codec: string; channels: number; sampleRate: number };
}

/** Limits on what the system accepts as input. */
export interface ProbeLimits {
  maxWidth: number;
  maxHeight: number;
  maxDurationSeconds: number;
}

export const DEFAULT_LIMITS: ProbeLimits = { maxWidth: 8192, maxHeight: 8192, maxDurationSeconds: 24 * 3600 };

export interface FfStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  time_base?: string;
  channels?: number;
  sample_rate?: string;
  disposition?: { attached_pic?: number };
  color_range?: string;
  color_primaries?: string;
  color_transfer?: string;
  color_space?: string;
  chroma_location?: string;
  sample_aspect_ratio?: string;
  /** The display matrix's rotation (ffprobe's stream side data), degrees counterclockwise. */
  rotation?: number;
}

const known = (v: string | undefined) => (v && v !== 'unknown' && v !== 'unspecified' ? v : '');

/** ffprobe's time limit for reading a file's header (a local file needs well under a second). */
const HEADER_TIMEOUT_MS = 30_000;

// What ffprobe says when no demuxer recognises the file (a text file named .mp4,
// an MP4 without its index): for a person, the file is not a video file.
const NOT_MEDIA = /Invalid data found when processing input|moov atom not found|EBML header parsing failed/;

/** A file's streams and container, as ffprobe reads them from its header. */
export interface Header {
  streams: FfStream[];
  video: FfStream;
  formatName: string;
}

/** The error to report when ffprobe could not read a job's input: refusals and "not a video" for a person. */
function probeError(err: unknown): AppError {
  const e = AppError.from(err);
  const refused = refusedFormat(e.message);
  if (refused) return new AppError(ErrorKind.Permanent, refused);
  if (e.kind === ErrorKind.Permanent && NOT_MEDIA.test(e.message))
    return new AppError(
      ErrorKind.Permanent,
      'input is not a video file (or a damaged one): ffprobe recognised no video format in it',
    );
  if (e.kind === ErrorKind.Permanent)
    return new AppError(ErrorKind.Permanent, `input is not a readable video: ${e.message}`);
  return e;
}

/** The first video stream that is not a cover picture; throws Permanent when there is none. */
function videoStream(streams: FfStream[]): FfStream {
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (video) return video;
  const what = streams.some((s) => s.codec_type === 'audio') ? 'audio only' : 'no video stream';
  throw new AppError(ErrorKind.Permanent, `input has no video stream (${what})`);
}

/**
 * Reads the header of `path` (a local file) with ffprobe, self-contained video
 * demuxers only: quick, no packets read. Throws Permanent with a readable reason
 * when it is not a video file or has no video stream.
 */
export async function probeHeader(path: string, signal?: AbortSignal): Promise<Header> {
  let meta: { streams?: FfStream[]; format?: { format_name?: string; duration?: string } };
  try {
    const { stdout } = await run(
      binaries.ffprobe,
      // Only demuxers of self-contained video files may open it (no playlists or lists).
      ['-v', 'error', ...inputArgs(), '-show_streams', '-show_format', '-of', 'json', path],
      { signal, timeoutMs: HEADER_TIMEOUT_MS },
    );
    meta = JSON.parse(stdout);
  } catch (err) {
    throw probeError(err);
  }
  const streams = meta.streams ?? [];
  return { streams, video: videoStream(streams), formatName: meta.format?.format_name ?? '' };
}

/** The stream fields the split uses (ffprobe -show_entries). */
const STREAM_FIELDS = [
  'index',
  'codec_type',
  'codec_name',
  'width',
  'height',
  'pix_fmt',
  'r_frame_rate',
  'avg_frame_rate',
  'time_base',
  'channels',
  'sample_rate',
  'color_range',
  'color_primaries',
  'color_transfer',
  'color_space',
  'chroma_location',
  'sample_aspect_ratio',
];

/**
 * The header and every packet of `path` (a local file) from one ffprobe run, in
 * ffprobe's "compact" output: one line per packet, stream and format, each
 * `section|key=value|…`. Packets of every stream are listed (a stream cannot be
 * selected without hiding the others' headers); the caller keeps the video's.
 */
async function probeAll(path: string, signal?: AbortSignal): Promise<Header & { packets: Packet[] }> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      binaries.ffprobe,
      [
        '-v',
        'error',
        // Only demuxers of self-contained video files may open it (no playlists or lists).
        ...inputArgs(),
        '-show_entries',
        `stream=${STREAM_FIELDS.join(',')}:stream_side_data=rotation:stream_disposition=attached_pic:format=format_name:packet=stream_index,pts,dts,duration,size,flags`,
        '-of',
        'compact',
        path,
      ],
      { signal, timeoutMs: 300_000 },
    ));
  } catch (err) {
    throw probeError(err);
  }
  const streams: FfStream[] = [];
  const packetLines: Map<string, string>[] = [];
  let formatName = '';
  for (const line of stdout.split('\n')) {
    const [section, ...fields] = line.split('|');
    const f = new Map<string, string>();
    for (const field of fields) {
      const eq = field.indexOf('=');
      if (eq > 0 && field.slice(eq + 1) !== 'N/A') f.set(field.slice(0, eq), field.slice(eq + 1));
    }
    if (section === 'packet') packetLines.push(f);
    else if (section === 'format') formatName = f.get('format_name') ?? '';
    else if (section === 'stream') streams.push(streamOf(f));
  }
  const video = videoStream(streams);
  const index = String(video.index);
  const packets = packetLines.filter((f) => f.get('stream_index') === index).map(packetOf);
  return { streams, video, formatName, packets };
}

/** A stream line of ffprobe's compact output as the JSON writer would give it. */
function streamOf(f: Map<string, string>): FfStream {
  const n = (k: string) => num(f.get(k));
  return {
    index: n('index'),
    codec_type: f.get('codec_type'),
    codec_name: f.get('codec_name'),
    width: n('width'),
    height: n('height'),
    pix_fmt: f.get('pix_fmt'),
    r_frame_rate: f.get('r_frame_rate'),
    avg_frame_rate: f.get('avg_frame_rate'),
    time_base: f.get('time_base'),
    channels: n('channels'),
    sample_rate: f.get('sample_rate'),
    disposition: { attached_pic: n('disposition:attached_pic') },
    color_range: f.get('color_range'),
    color_primaries: f.get('color_primaries'),
    color_transfer: f.get('color_transfer'),
    color_space: f.get('color_space'),
    chroma_location: f.get('chroma_location'),
    sample_aspect_ratio: f.get('sample_aspect_ratio'),
    rotation: n('rotation'),
  };
}

/** A packet line of ffprobe's compact output. */
function packetOf(f: Map<string, string>): Packet {
  const flags = f.get('flags') ?? '';
  return {
    pts: num(f.get('pts')),
    dts: num(f.get('dts')),
    duration: num(f.get('duration')) ?? 0,
    size: num(f.get('size')) ?? 0,
    key: flags.includes('K'),
    discard: flags.includes('D'),
  };
}

/** Probes `path` (a local file); throws Permanent with a readable reason when it is not a usable video. */
export async function probe(
  path: string,
  opts: { signal?: AbortSignal; limits?: ProbeLimits } = {},
): Promise<Probe> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const { streams, video, formatName, packets } = await probeAll(path, opts.signal);
  const demuxer = demuxerOf(formatName);
  if (!demuxer) throw new AppError(ErrorKind.Permanent, refusalFor(formatName));
  const codedWidth = video.width ?? 0;
  const codedHeight = video.height ?? 0;
  if (codedWidth <= 0 || codedHeight <= 0) throw new AppError(ErrorKind.Permanent, 'input video has no size');
  if (codedWidth > limits.maxWidth || codedHeight > limits.maxHeight)
    throw new AppError(
      ErrorKind.Permanent,
      `input resolution ${codedWidth}x${codedHeight} exceeds the limit ${limits.maxWidth}x${limits.maxHeight}`,
    );
  const { width, height, rotation, sar } = displayGeometry(codedWidth, codedHeight, video);
  const timeBase = parseRatio(video.time_base);
  if (!timeBase) throw new AppError(ErrorKind.Permanent, 'input video stream has no time base');

  const frames = framesFromPackets(packets);
  if (frames.length < 2)
    throw new AppError(
      ErrorKind.Permanent,
      `input has ${frames.length} video frame(s); a video needs at least 2`,
    );
  if (!frames.some((f) => f.key)) throw new AppError(ErrorKind.Permanent, 'input video has no key frame');

  const moved = frames.filter((f) => f.moved).length;
  const warnings = moved
    ? [
        `${moved} frame(s) had the same timestamp as the frame before; each was moved 1 tick (${timeBase.num}/${timeBase.den} s) later so that every frame is kept`,
      ]
    : [];
  const nominal = parseRatio(video.r_frame_rate) ?? parseRatio(video.avg_frame_rate) ?? { num: 25, den: 1 };
  const startPts = frames[0]!.pts;
  const last = frames[frames.length - 1]!;
  const duration = last.pts + last.duration - startPts;
  const seconds = (duration * timeBase.num) / timeBase.den;
  const variable = isVariable(frames);
  const rates = variable ? variableRates(frames, timeBase, seconds, nominal) : undefined;
  const frameRate = rates?.average ?? nominal;
  if (seconds > limits.maxDurationSeconds)
    throw new AppError(
      ErrorKind.Permanent,
      `input duration ${Math.round(seconds)} s exceeds the limit of ${limits.maxDurationSeconds} s`,
    );

  const audioStream = streams.find((s) => s.codec_type === 'audio');
  const info = create(SourceInfoSchema, {
    width,
    height,
    frameRate: { num: frameRate.num, den: frameRate.den },
    timeBase: { num: timeBase.num, den: timeBase.den },
    startPts: startPts,
    duration: duration,
    frameCount: frames.length,
    hasAudio: Boolean(audioStream),
    videoCodec: video.codec_name ?? '',
    variableFrameRate: variable,
    pixFmt: video.pix_fmt ?? '',
    colorRange: known(video.color_range),
    colorPrimaries: known(video.color_primaries),
    colorTransfer: known(video.color_transfer),
    colorSpace: known(video.color_space),
    chromaLocation: known(video.chroma_location),
    demuxer,
    warnings,
    audioChannels: audioStream?.channels ?? 0,
    audioSampleRate: Number(audioStream?.sample_rate ?? 0) || 0,
    displayRotation: rotation,
    sampleAspectRatio: sar,
    maxFrameRate: rates?.max,
  });
  return {
    info,
    timeBase,
    frameRate,
    frames,
    packetCount: packets.length,
    formatName,
    audio: audioStream
      ? {
          codec: audioStream.codec_name ?? '',
          channels: audioStream.channels ?? 2,
          sampleRate: Number(audioStream.sample_rate ?? 48000),
        }
      : undefined,
  };
}

/**
 * How a viewer sees the frames: the display matrix's rotation (0, 90, 180 or 270
 * degrees counterclockwise; Permanent for any other angle), the pixel aspect ratio
 * when not square, and the size shown (stretched to square pixels, the width
 * rounded to even, then turned).
 */
export function displayGeometry(
  codedWidth: number,
  codedHeight: number,
  video: Pick<FfStream, 'rotation' | 'sample_aspect_ratio'>,
): { width: number; height: number; rotation: number; sar?: Ratio } {
  const turn = Math.round(video.rotation ?? 0);
  if (turn % 90 !== 0)
    throw new AppError(
      ErrorKind.Permanent,
      `input video is shown turned by ${turn}° (its display matrix): only multiples of 90° are supported`,
    );
  const rotation = ((turn % 360) + 360) % 360;
  // ffprobe writes "4:3" ("0:1" or nothing when unknown).
  const sar = parseRatio(video.sample_aspect_ratio?.replace(':', '/'));
  const square = !sar || sar.num === sar.den;
  const shownWidth = square ? codedWidth : Math.max(2, 2 * Math.round((codedWidth * sar.num) / sar.den / 2));
  const [width, height] = rotation % 180 ? [codedHeight, shownWidth] : [shownWidth, codedHeight];
  return { width, height, rotation, sar: square ? undefined : sar };
}

interface Packet {
  pts: number | undefined;
  dts: number | undefined;
  duration: number;
  size: number;
  key: boolean;
  discard: boolean;
}

/** The first video stream's time base and every packet of it, in decode order, from one ffprobe run. */
export async function probeVideoPackets(
  path: string,
  signal?: AbortSignal,
  demuxer?: string,
): Promise<{ timeBase?: Ratio; packets: Packet[] }> {
  const { stdout } = await run(
    binaries.ffprobe,
    [
      '-v',
      'error',
      ...inputArgs(demuxer),
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=time_base:packet=pts,dts,duration,size,flags',
      '-of',
      'csv',
      path,
    ],
    { signal, timeoutMs: 300_000 },
  );
  const packets: Packet[] = [];
  let timeBase: Ratio | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('stream,')) timeBase = parseRatio(line.slice(7).trim());
    if (!line.startsWith('packet,')) continue;
    // ffprobe prints the fields in its own order: pts, dts, duration, size, flags.
    const [, pts, dts, duration, size, flags = ''] = line.split(',');
    packets.push({
      pts: num(pts),
      dts: num(dts),
      duration: num(duration) ?? 0,
      size: num(size) ?? 0,
      key: flags.includes('K'),
      discard: flags.includes('D'),
    });
  }
  return { timeBase, packets };
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s === '' || s === 'N/A') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Presentation-ordered frames from decode-ordered packets; frame durations from pts differences. */
export function framesFromPackets(packets: Packet[]): Frame[] {
  const frames: Frame[] = [];
  packets.forEach((p, i) => {
    const pts = p.pts ?? p.dts;
    if (pts === undefined || p.discard) return;
    frames.push({ pts, decodeIndex: i, key: p.key, duration: p.duration, size: p.size });
  });
  frames.sort((a, b) => a.pts - b.pts || a.decodeIndex - b.decodeIndex);
  // A container that rounds timestamps (Matroska's 1 ms) can give two frames one
  // timestamp; both decode. A frame is identified by its pts, so the later one is
  // moved by the smallest step, one tick after the frame before.
  for (let i = 1; i < frames.length; i++) {
    const before = frames[i - 1]!.pts;
    if (frames[i]!.pts <= before) {
      frames[i]!.pts = before + 1;
      frames[i]!.moved = true;
    }
  }
  for (let i = 0; i < frames.length - 1; i++) frames[i]!.duration = frames[i + 1]!.pts - frames[i]!.pts;
  const last = frames[frames.length - 1];
  if (last && last.duration <= 0) last.duration = frames.length > 1 ? frames[frames.length - 2]!.duration : 1;
  return frames;
}

/**
 * The frame rates of a variable-rate source, where r_frame_rate may be no rate it
 * plays at (30 and 24 fps parts give 120/1, the rate that times both): the average
 * (frames over duration), at which its encoders count frames and their bit rate
 * caps, and its highest rate for HLS FRAME-RATE, at most the nominal rate. The
 * highest rate is one over its short frame interval: the tenth-shortest percentile,
 * averaged with the intervals one tick from it when that tick is under 5 % of it
 * (a millisecond time base times 1/30 s as 33 or 34). Intervals of one tick (frames
 * moved off a shared timestamp) do not count. Both to 1/1000 fps.
 */
export function variableRates(
  frames: readonly Pick<Frame, 'pts'>[],
  timeBase: Ratio,
  seconds: number,
  nominal: Ratio,
): { average: Ratio; max: Ratio } {
  const perMille = (fps: number): Ratio => {
    const num = Math.max(1, Math.round(fps * 1000));
    const d = gcd(num, 1000);
    return { num: num / d, den: 1000 / d };
  };
  const pts = frames.map((f) => f.pts).sort((a, b) => a - b);
  const intervals = pts
    .slice(1)
    .map((t, i) => t - pts[i]!)
    .filter((d) => d > 1)
    .sort((a, b) => a - b);
  const average = perMille(frames.length / seconds);
  const nominalFps = nominal.num / nominal.den;
  if (!intervals.length) return { average, max: perMille(nominalFps) };
  const short = intervals[Math.floor(intervals.length / 10)]!;
  const slack = 1 / short < 0.05 ? 1 : 0;
  const near = intervals.filter((d) => Math.abs(d - short) <= slack);
  const interval = near.reduce((a, b) => a + b, 0) / near.length;
  return { average, max: perMille(Math.min(nominalFps, timeBase.den / (timeBase.num * interval))) };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function isVariable(frames: Frame[]): boolean {
  const d0 = frames[0]?.duration ?? 0;
  return frames.slice(0, -1).some((f) => Math.abs(f.duration - d0) > 1);
}

/** The time base of the first video stream of a local file and the timestamp of its first packet. */
export async function pieceTiming(
  file: string,
  signal?: AbortSignal,
  demuxer?: string,
): Promise<{ timeBase: Ratio; firstPts: number }> {
  const { stdout } = await run(
    binaries.ffprobe,
    [
      '-v',
      'error',
      ...inputArgs(demuxer),
      '-select_streams',
      'v:0',
      '-read_intervals',
      '%+#1',
      '-show_entries',
      'stream=time_base:packet=pts',
      '-of',
      'json',
      file,
    ],
    { signal },
  );
  const j = JSON.parse(stdout) as { streams?: { time_base?: string }[]; packets?: { pts?: number }[] };
  const timeBase = parseRatio(j.streams?.[0]?.time_base);
  const firstPts = j.packets?.[0]?.pts;
  if (!timeBase || firstPts === undefined)
    throw new AppError(ErrorKind.Permanent, `no video timing in ${basename(file)}`);
  return { timeBase, firstPts };
}
