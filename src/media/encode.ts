// Encode: exactly the piece's frames → one AV1 fMP4 HLS media segment placed at
// its true start on the output timeline, plus the shared init segment.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type Segment, SegmentSchema, type SourceInfo } from '../gen/avspl1t/v1/media_pb.js';
import type { EncodeOptions, OperationContext } from './api.js';
import { av1CodecString } from './codec-string.js';
import { binaries, ffmpegBase, run } from './ffmpeg.js';
import { av1cOf, placeFragment } from './fragment.js';
import { localInput } from './local-input.js';
import { halfMinGap } from './plan.js';
import { pieceTiming } from './probe.js';
import { type Ratio, rescale } from './rational.js';
import { encoderArgs, settingsProblem } from './settings.js';

/** Name of the shared init segment in the output folder. */
export const INIT_NAME = 'init.mp4';

/** File name of media segment `index`. */
export function segmentName(index: number): string {
  return `seg-${String(index).padStart(5, '0')}.m4s`;
}

/** Encodes exactly the piece's frames to one AV1 fMP4 HLS segment (+ the shared init segment). */
export async function encode(opts: EncodeOptions, ctx: OperationContext): Promise<Segment> {
  const { piece, source, settings } = opts;
  const problem = settingsProblem(settings);
  if (problem) throw new AppError(ErrorKind.InvalidInput, problem);
  const pts = piece.framePts;
  if (pts.length === 0) throw new AppError(ErrorKind.InvalidInput, `segment ${piece.index} has no frames`);
  const tb: Ratio = { num: source.timeBase!.num, den: source.timeBase!.den };
  const fr: Ratio = { num: source.frameRate!.num, den: source.frameRate!.den };

  const input = await localInput(piece.file!, ctx, 'piece.nut');
  const { timeBase: pieceTb, firstPts } = piece.fileTimeBase?.num
    ? { timeBase: { num: piece.fileTimeBase.num, den: piece.fileTimeBase.den }, firstPts: piece.fileFirstPts }
    : await pieceTiming(input, ctx.signal);
  // The piece's muxer may have shifted every timestamp by a constant: measure it at the key frame.
  const shift = firstPts - rescale(piece.keyPts, tb, pieceTb);
  const inPiece = pts.map((t) => rescale(t, tb, pieceTb) + shift);
  const frameTicks = rescale(piece.duration / pts.length, tb, pieceTb);
  const tol = Math.max(0.5, Math.min(halfMinGap(inPiece), frameTicks / 2));
  const from = Math.floor(inPiece[0]! - tol);
  const to = Math.ceil(inPiece[inPiece.length - 1]! + tol);

  const out = path.join(ctx.tmpDir, 'encoded.mp4');
  const filter = [
    `trim=start_pts=${from}:end_pts=${to}`,
    `settb=${fr.den}/${fr.num}`,
    'setpts=N',
    `format=${outputPixFmt(source.pixFmt)}`,
  ];
  // A range of the source: seek to (just after) its key frame; the demuxer starts at
  // the key frame at or before that time, the trim keeps exactly the listed frames.
  const seek = piece.inSource
    ? ['-noaccurate_seek', '-seek_timestamp', '1', '-ss', seekTime(piece.keyPts + tol, pieceTb)]
    : [];
  const args = (seekArgs: string[]) => [
    ...ffmpegBase(),
    '-copyts',
    ...seekArgs,
    '-i',
    input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    '-vf',
    filter.join(','),
    '-r',
    `${fr.num}/${fr.den}`,
    '-fps_mode',
    'passthrough',
    '-frames:v',
    String(pts.length),
    ...encoderArgs(settings, pts.length, ctx.threads),
    ...colorArgs(source),
    '-map_metadata',
    '-1',
    '-map_chapters',
    '-1',
    '-fflags',
    '+bitexact',
    '-flags:v',
    '+bitexact',
    '-video_track_timescale',
    String(tb.den),
    '-use_editlist',
    '0',
    '-movflags',
    '+frag_custom+empty_moov+delay_moov+default_base_moof',
    '-progress',
    'pipe:2',
    '-stats_period',
    '0.5',
    '-f',
    'mp4',
    out,
  ];
  const end = pts[0]! + piece.duration;
  const durations = pts.map((t, i) => ((i + 1 < pts.length ? pts[i + 1]! : end) - t) * tb.num);
  const encodeFrom = async (seekArgs: string[]) => {
    await run(binaries.ffmpeg, args(seekArgs), {
      signal: ctx.signal,
      onLine: (line) => {
        const m = /^frame=(\d+)/.exec(line);
        if (m) ctx.onProgress?.(Math.min(1, Number(m[1]) / pts.length));
      },
    });
    return placeFragment(await readFile(out), {
      sequence: piece.index + 1,
      baseTime: piece.start * tb.num,
      durations,
    });
  };
  let placed: ReturnType<typeof placeFragment>;
  try {
    placed = await encodeFrom(seek);
  } catch (err) {
    // A seek that landed after the key frame (a container index that lies) loses
    // frames: decode from the start of the file instead.
    if (seek.length === 0 || ctx.signal?.aborted) throw err;
    placed = await encodeFrom([]);
  }
  if (placed.timescale !== tb.den)
    throw new AppError(
      ErrorKind.Internal,
      `track timescale ${placed.timescale} differs from the source time base 1/${tb.den}`,
    );
  const codecs = av1CodecString(av1cOf(placed.init));
  const initLocal = path.join(ctx.tmpDir, INIT_NAME);
  const segLocal = path.join(ctx.tmpDir, segmentName(piece.index));
  await writeFile(initLocal, placed.init);
  await writeFile(segLocal, placed.segment);
  const init = await ctx.storage.upload(initLocal, opts.output, INIT_NAME, {
    contentType: 'video/mp4',
    signal: ctx.signal,
  });
  const file = await ctx.storage.upload(segLocal, opts.output, segmentName(piece.index), {
    contentType: 'video/mp4',
    signal: ctx.signal,
  });
  return create(SegmentSchema, {
    index: piece.index,
    file,
    init,
    start: piece.start * tb.num,
    duration: piece.duration * tb.num,
    timescale: tb.den,
    sizeBytes: placed.segment.length,
    frameCount: placed.sampleCount,
    initSha256: createHash('sha256').update(placed.init).digest('hex'),
    codecs,
  });
}

function seekTime(ticks: number, tb: Ratio): string {
  return ((ticks * tb.num) / tb.den).toFixed(6);
}

/** Explicit colour tags, so every piece's sequence header is the same whatever its first frame says. */
export function colorArgs(s: SourceInfo): string[] {
  const args: string[] = [];
  if (s.colorRange) args.push('-color_range', s.colorRange);
  if (s.colorPrimaries) args.push('-color_primaries', s.colorPrimaries);
  if (s.colorTransfer) args.push('-color_trc', s.colorTransfer);
  if (s.colorSpace) args.push('-colorspace', s.colorSpace);
  args.push('-chroma_sample_location', s.chromaLocation || 'left');
  return args;
}

/** AV1 encoders take 4:2:0; keep 10-bit sources at 10 bits. */
export function outputPixFmt(source: string): string {
  return /1[02]le$|1[02]be$|p010|p016/.test(source) ? 'yuv420p10le' : 'yuv420p';
}
