// Encode: exactly the piece's frames → one fMP4 HLS media segment per rung (AV1
// or H.264, scaled to the rung's size) placed at its true start on the output
// timeline, plus each rung's shared init segment. Several rungs share one decode:
// one ffmpeg splits the frames to one scaler and encoder per rung.
import { createHash } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import {
  type EncoderSettings,
  type Piece,
  type Segment,
  SegmentSchema,
  type SourceInfo,
} from '../gen/avspl1t/v1/media_pb.js';
import type { Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { describe } from '../storage/index.js';
import type { EncodeOptions, OperationContext } from './api.js';
import { binaries, ffmpegBase, run as run_ } from './ffmpeg.js';
import { NO_FRAME_SILENCE_MS, NoFrameError, watchFirstFrame } from './first-frame-watch.js';
import { FrameCountError, initCodecString, KeyFrameError, placeFragments } from './fragment.js';
import { inputArgs } from './input-format.js';
import { withLocalInput } from './local-input.js';
import { halfMinGap, joinsRun } from './plan.js';
import { pieceTiming } from './probe.js';
import { type Ratio, rescale, secondsArg } from './rational.js';
import { rungThreads } from './rung-threads.js';
import { encoderArgs, isAv1, settingsProblem } from './settings.js';

/** Name of the shared init segment in the output folder. */
export const INIT_NAME = 'init.mp4';

/** File name of media segment `index`. */
export function segmentName(index: number): string {
  return `seg-${String(index).padStart(5, '0')}.m4s`;
}

/** One rung of an encode: what its encoder makes and where its files go. */
interface Rung {
  settings: EncoderSettings;
  width: number;
  height: number;
  maxBitrateKbps: number;
  renditionIndex: number;
  output: Folder;
}

/** The rungs an encode makes: `opts.rungs`, or the one rung of `rendition` (the job's settings at the source's size when unset). */
function rungsOf(opts: EncodeOptions): Rung[] {
  const { source } = opts;
  if (opts.rungs?.length)
    return opts.rungs.map((r) => {
      if (!r.rendition.settings)
        throw new AppError(ErrorKind.InvalidInput, `rung ${r.renditionIndex} has no encoder settings`);
      return {
        settings: r.rendition.settings,
        width: r.rendition.width || source.width,
        height: r.rendition.height || source.height,
        maxBitrateKbps: r.rendition.maxBitrateKbps,
        renditionIndex: r.renditionIndex,
        output: r.output,
      };
    });
  return [
    {
      settings: opts.rendition?.settings ?? opts.settings,
      width: opts.rendition?.width || source.width,
      height: opts.rendition?.height || source.height,
      maxBitrateKbps: opts.rendition?.maxBitrateKbps ?? 0,
      renditionIndex: opts.renditionIndex ?? 0,
      output: opts.output,
    },
  ];
}

/**
 * Encodes the pieces to one AV1 fMP4 HLS segment each (+ the shared init segment)
 * for every rung. Consecutive pieces of the same source with equal frame counts
 * (the last may be shorter) are encoded by one
 * encoder run with a key frame every segment (one start-up instead of many);
 * otherwise, or if an encoder put its key frames elsewhere, piece by piece.
 * The segments come back rung by rung, each rung's in piece order.
 */
export async function encode(opts: EncodeOptions, ctx: OperationContext): Promise<Segment[]> {
  const rungs = rungsOf(opts);
  for (const rung of rungs) {
    const problem = settingsProblem(rung.settings);
    if (problem) throw new AppError(ErrorKind.InvalidInput, problem);
  }
  if (opts.pieces.length === 0) throw new AppError(ErrorKind.InvalidInput, 'encode task has no pieces');
  for (const piece of opts.pieces)
    if (piece.framePts.length === 0)
      throw new AppError(ErrorKind.InvalidInput, `segment ${piece.index} has no frames`);
  const total = opts.pieces.reduce((n, p) => n + p.framePts.length, 0);
  let done = 0;
  let reported = 0;
  const encodeRun = async (run: Piece[]) => {
    const frames = run.reduce((n, p) => n + p.framePts.length, 0);
    const segments = await encodeOneRun(opts, rungs, run, {
      ...ctx,
      // Never backwards (a retry starts its own count again).
      onProgress: (f) => {
        reported = Math.max(reported, Math.min(1, (done + f * frames) / total));
        ctx.onProgress?.(reported);
      },
    });
    done += frames;
    return segments;
  };
  if (opts.pieces.length > 1 && runnable(opts.pieces)) {
    try {
      return await encodeRun(opts.pieces);
    } catch (err) {
      // Key frames not where the segments start (nothing was uploaded yet): one run per piece.
      if (ctx.signal?.aborted || !(err instanceof KeyFrameError)) throw err;
    }
  }
  const segments: Segment[] = [];
  for (const piece of opts.pieces) segments.push(...(await encodeRun([piece])));
  // Rung by rung, as one run returns them.
  return rungs.flatMap((r) => segments.filter((s) => s.renditionIndex === r.renditionIndex));
}

/** Whether one encoder run can make every piece's segment: a contiguous range of one source (see joinsRun). */
function runnable(pieces: Piece[]): boolean {
  const first = pieces[0]!;
  return (
    joinsRun(pieces) &&
    pieces.every(
      (p, i) =>
        describe(p.file) === describe(first.file) &&
        (i === 0 ||
          (p.index === pieces[i - 1]!.index + 1 &&
            p.start === pieces[i - 1]!.start + pieces[i - 1]!.duration)),
    )
  );
}

async function encodeOneRun(
  opts: EncodeOptions,
  rungs: Rung[],
  run: Piece[],
  ctx: OperationContext,
): Promise<Segment[]> {
  return withLocalInput(run[0]!.file!, ctx, 'piece.nut', (input) =>
    encodeRunFrom(input, opts, rungs, run, ctx),
  );
}

/** One ffmpeg over `run`, read from `input` (the local path of its pieces' file): one decode, an encoder per rung. */
async function encodeRunFrom(
  input: string,
  opts: EncodeOptions,
  rungs: Rung[],
  run: Piece[],
  ctx: OperationContext,
): Promise<Segment[]> {
  const { source } = opts;
  const piece = run[0]!;
  const last = run[run.length - 1]!;
  const pts = run.flatMap((p) => p.framePts);
  const tb: Ratio = { num: source.timeBase!.num, den: source.timeBase!.den };
  const fr: Ratio = { num: source.frameRate!.num, den: source.frameRate!.den };

  // A range of the source is read with the demuxer the split probed; a cut piece is NUT.
  const pieceDemuxer = piece.inSource ? source.demuxer : 'nut';
  const { timeBase: pieceTb, firstPts } = piece.fileTimeBase?.num
    ? { timeBase: { num: piece.fileTimeBase.num, den: piece.fileTimeBase.den }, firstPts: piece.fileFirstPts }
    : await pieceTiming(input, ctx.signal, pieceDemuxer);
  // The piece's muxer may have shifted every timestamp by a constant: measure it at the key frame.
  const shift = firstPts - rescale(piece.keyPts, tb, pieceTb);
  const inPiece = pts.map((t) => rescale(t, tb, pieceTb) + shift);
  const duration = last.start + last.duration - piece.start;
  const frameTicks = rescale(duration / pts.length, tb, pieceTb);
  const tol = Math.max(0.5, Math.min(halfMinGap(inPiece), frameTicks / 2));
  const from = Math.floor(inPiece[0]! - tol);
  const to = Math.ceil(inPiece[inPiece.length - 1]! + tol);

  // The frames, decoded once: exactly the listed ones, numbered from 0.
  const frames = [`trim=start_pts=${from}:end_pts=${to}`, `settb=${fr.den}/${fr.num}`, 'setpts=N'];
  // Non-square pixels (the probe sets the ratio only then) are scaled to square ones at
  // the size shown (source.width x height).
  const square = !source.sampleAspectRatio;
  const rungFilter = (rung: Rung) => [
    // Turned as the source's display matrix says (the input is read with -noautorotate).
    ...turnFilters(source.displayRotation),
    // A rung smaller than the source (or pixels not square): scaled once here, with a Lanczos filter.
    ...(!square || rung.width !== source.width || rung.height !== source.height
      ? [`scale=${rung.width}:${rung.height}:flags=lanczos+accurate_rnd+full_chroma_int`, 'setsar=1']
      : []),
    // H.264 rungs are 8-bit (High profile) whatever the source.
    `format=${isAv1(rung.settings.encoder) ? outputPixFmt(source.pixFmt) : 'yuv420p'}`,
  ];
  // One rung: a simple filter chain. Several: the decoded frames split to one chain per rung.
  const graph =
    rungs.length === 1
      ? []
      : [
          '-filter_complex',
          [
            `[0:v:0]${frames.join(',')},split=${rungs.length}${rungs.map((_, k) => `[in${k}]`).join('')}`,
            ...rungs.map((r, k) => `[in${k}]${rungFilter(r).join(',')}[out${k}]`),
          ].join(';'),
        ];
  const outs = rungs.map((_, k) =>
    path.join(ctx.tmpDir, rungs.length === 1 ? 'encoded.mp4' : `encoded-${k}.mp4`),
  );
  // A range of the source: seek to (just after) its key frame; the demuxer starts at
  // the key frame at or before that time, the trim keeps exactly the listed frames.
  const seek = piece.inSource
    ? [
        // Only the demuxers the split accepted as seekable (the file is the user's source).
        '-format_whitelist',
        'mov,matroska,nut',
        '-noaccurate_seek',
        '-seek_timestamp',
        '1',
        '-ss',
        secondsArg(rescale(piece.keyPts, tb, pieceTb) + shift + tol, pieceTb),
      ]
    : [];
  // One key frame per segment: the run's pieces have the first's frame count (the last at most).
  const gop = run.length > 1 ? piece.framePts.length : undefined;
  // The rungs' encoders run at once in this one ffmpeg: see rungThreads.
  const threads = rungThreads(rungs.length, ctx.threads);
  const outputArgs = (rung: Rung, k: number) => [
    ...(rungs.length === 1 ? ['-map', '0:v:0'] : ['-map', `[out${k}]`]),
    '-an',
    '-sn',
    '-dn',
    ...(rungs.length === 1 ? ['-vf', [...frames, ...rungFilter(rung)].join(',')] : []),
    '-r',
    `${fr.num}/${fr.den}`,
    '-fps_mode',
    'passthrough',
    '-frames:v',
    String(pts.length),
    ...encoderArgs(rung.settings, pts.length, threads, gop, rung.maxBitrateKbps),
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
    '-f',
    'mp4',
    outs[k]!,
  ];
  const args = (seekArgs: string[]) => [
    ...ffmpegBase(),
    '-copyts',
    // The frames are turned by turnFilters whatever the piece's container kept of the display matrix.
    '-noautorotate',
    ...inputArgs(pieceDemuxer),
    ...seekArgs,
    '-i',
    input,
    ...graph,
    '-progress',
    'pipe:2',
    '-stats_period',
    '0.5',
    ...rungs.flatMap(outputArgs),
  ];
  const placements = run.map((p) => {
    const end = p.framePts[0]! + p.duration;
    return {
      sequence: p.index + 1,
      baseTime: p.start * tb.num,
      durations: p.framePts.map(
        (t, i) => ((i + 1 < p.framePts.length ? p.framePts[i + 1]! : end) - t) * tb.num,
      ),
    };
  });
  const encodeFrom = async (seekArgs: string[]) => {
    const watch = watchFirstFrame(ctx.signal);
    try {
      await run_(binaries.ffmpeg, args(seekArgs), {
        signal: watch.signal,
        onStart: ctx.onCommand,
        onLine: (line) => {
          watch.line(line);
          const m = /^frame=(\d+)/.exec(line);
          if (m) ctx.onProgress?.(Math.min(1, Number(m[1]) / pts.length));
        },
      });
    } catch (err) {
      if (!watch.stuck) throw err;
      const which = run.length > 1 ? `segments ${piece.index}-${last.index}` : `segment ${piece.index}`;
      throw new NoFrameError(
        `no frame of ${which} reached the encoder: the source's frames do not decode at the timestamps the split found (ffmpeg stopped after ${NO_FRAME_SILENCE_MS / 1000} s without output)`,
      );
    } finally {
      watch.stop();
    }
    // Every rung's key frames where its segments start, or none is used (KeyFrameError).
    return Promise.all(outs.map(async (out) => placeFragments(await readFile(out), placements)));
  };
  let placed: ReturnType<typeof placeFragments>[];
  try {
    placed = await encodeFrom(seek);
  } catch (err) {
    // A seek that landed after the key frame (a container index that lies) loses
    // frames, maybe all of them: decode from the start of the file instead.
    const lost = err instanceof FrameCountError || err instanceof NoFrameError;
    if (seek.length === 0 || ctx.signal?.aborted || !lost) throw err;
    placed = await encodeFrom(seek.slice(0, 2));
  }
  const segments: Segment[] = [];
  for (const [r, rung] of rungs.entries())
    segments.push(...(await uploadRung(placed[r]!, rung, `r${r}-`, run, tb, ctx)));
  return segments;
}

/** Uploads one rung's init segment and its segments of `run`; the Segments say where they went. */
async function uploadRung(
  placed: ReturnType<typeof placeFragments>,
  rung: Rung,
  prefix: string,
  run: Piece[],
  tb: Ratio,
  ctx: OperationContext,
): Promise<Segment[]> {
  if (placed.timescale !== tb.den)
    throw new AppError(
      ErrorKind.Internal,
      `track timescale ${placed.timescale} differs from the source time base 1/${tb.den}`,
    );
  const codecs = initCodecString(placed.init);
  const initSha256 = createHash('sha256').update(placed.init).digest('hex');
  const initLocal = path.join(ctx.tmpDir, prefix + INIT_NAME);
  await writeFile(initLocal, placed.init);
  const init = await ctx.storage.upload(initLocal, rung.output, INIT_NAME, {
    contentType: 'video/mp4',
    signal: ctx.signal,
  });
  const segments: Segment[] = [];
  for (const [k, p] of run.entries()) {
    const parts = placed.segments[k]!;
    const segLocal = path.join(ctx.tmpDir, prefix + segmentName(p.index));
    await writeParts(segLocal, parts);
    const file = await ctx.storage.upload(segLocal, rung.output, segmentName(p.index), {
      contentType: 'video/mp4',
      signal: ctx.signal,
    });
    segments.push(
      create(SegmentSchema, {
        index: p.index,
        file,
        init,
        start: p.start * tb.num,
        duration: p.duration * tb.num,
        timescale: tb.den,
        sizeBytes: parts.reduce((n, b) => n + b.length, 0),
        frameCount: p.framePts.length,
        initSha256,
        codecs,
        renditionIndex: rung.renditionIndex,
        keyFrameOffset: placed.keyFrames[k]!.offset,
        keyFrameLength: placed.keyFrames[k]!.length,
      }),
    );
  }
  return segments;
}

async function writeParts(file: string, parts: Buffer[]): Promise<void> {
  const fh = await open(file, 'w');
  try {
    await fh.writev(parts);
  } finally {
    await fh.close();
  }
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

/** The filters that turn decoded frames as a display matrix of `rotation` degrees (counterclockwise) shows them. */
export function turnFilters(rotation: number): string[] {
  switch (rotation) {
    case 90:
      return ['transpose=cclock'];
    case 180:
      return ['hflip', 'vflip'];
    case 270:
      return ['transpose=clock'];
    default:
      return [];
  }
}

/** AV1 encoders take 4:2:0; keep 10-bit sources at 10 bits. */
export function outputPixFmt(source: string): string {
  return /1[02]le$|1[02]be$|p010|p016/.test(source) ? 'yuv420p10le' : 'yuv420p';
}
