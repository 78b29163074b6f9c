// Split: probe the input and cut it into pieces without re-encoding. Each piece is
// a stream copy from the key frame at or before its first frame up to the last
// packet its frames need; the encode keeps exactly the listed frames. Pieces that
// cannot be verified fall back to a lossless (FFV1) intermediate.
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type SplitResult, SplitResultSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Piece, PieceSchema } from '../gen/avspl1t/v1/media_pb.js';
import type { OperationContext, SplitOptions } from './api.js';
import { mapLimit } from './concurrency.js';
import { binaries, ffmpegBase, run } from './ffmpeg.js';
import { inputArgs } from './input-format.js';
import { withLocalInput } from './local-input.js';
import { halfMinGap, type PiecePlan, planPieces } from './plan.js';
import { type Frame, framesFromPackets, type Probe, probe, probeVideoPackets } from './probe.js';
import { type Ratio, rescale, secondsArg } from './rational.js';

/** Containers whose index lets ffmpeg seek straight to a key frame; others are remuxed to NUT first. */
const SEEKABLE = /(^|,)(mov|mp4|matroska|webm|nut)(,|$)/;

/** Seconds per segment must be at least this (a frame or two of typical video). */
export const MIN_SECONDS_PER_SEGMENT = 0.1;

/** Probes the input and cuts it into stream-copied pieces of `secondsPerSegment`. */
export async function split(opts: SplitOptions, ctx: OperationContext): Promise<SplitResult> {
  if (!(opts.secondsPerSegment >= MIN_SECONDS_PER_SEGMENT) || !Number.isFinite(opts.secondsPerSegment))
    throw new AppError(
      ErrorKind.InvalidInput,
      `seconds_per_segment must be a number ≥ ${MIN_SECONDS_PER_SEGMENT}, got ${opts.secondsPerSegment}`,
    );
  return withLocalInput(opts.input, ctx, undefined, (input) => splitFrom(input, opts, ctx));
}

/** The split of `input`, the local path of `opts.input`. */
async function splitFrom(input: string, opts: SplitOptions, ctx: OperationContext): Promise<SplitResult> {
  const original = await probe(input, { signal: ctx.signal });
  let source = input;
  let p: Probe = original;
  if (!SEEKABLE.test(original.formatName)) {
    // MPEG-TS and raw streams have no index: one sequential remux keeps every timestamp.
    source = path.join(ctx.tmpDir, 'source.nut');
    await run(
      binaries.ffmpeg,
      [
        ...ffmpegBase(),
        '-copyts',
        ...inputArgs(original.info.demuxer),
        '-i',
        input,
        ...['-map', '0:v:0', '-c', 'copy', '-f', 'nut', source],
      ],
      {
        signal: ctx.signal,
        onStart: ctx.onCommand,
      },
    );
    p = await probe(source, { signal: ctx.signal });
  }
  // The pieces are cut from `source` (read with its own demuxer); the source info
  // describes the input (the audio task reads it).
  const from: Source = { path: source, demuxer: p.info.demuxer };
  p.info.hasAudio = original.info.hasAudio;
  p.info.audioChannels = original.info.audioChannels;
  p.info.audioSampleRate = original.info.audioSampleRate;
  p.info.demuxer = original.info.demuxer;
  const plans = planPieces(p.frames, p.timeBase, opts.secondsPerSegment);
  const framePts = (plan: PiecePlan) => p.frames.slice(plan.first, plan.end).map((f) => f.pts);
  if (source === input && ctx.storage.localPath(opts.input) && opts.pieces !== 'copy') {
    // A seekable file on a filesystem the workers share: every encode reads its range
    // straight from the source (seeking to the key frame), so nothing is copied.
    const pieces = plans.map((plan) => {
      const keyPts = p.frames[plan.keyFrame]!.pts;
      return create(PieceSchema, {
        index: plan.index,
        file: opts.input,
        framePts: framePts(plan),
        start: plan.start,
        duration: plan.duration,
        keyPts,
        fileTimeBase: p.timeBase,
        fileFirstPts: keyPts,
        inSource: true,
        sourceBytes: plan.sourceBytes,
      }) as Piece;
    });
    ctx.onProgress?.(1);
    return create(SplitResultSchema, { source: p.info, pieces });
  }
  await ctx.storage.ensureWritable(opts.working);
  let done = 0;
  const gap = halfMinGap(p.frames.map((f) => f.pts));
  // Stream copies are cheap; ffmpeg's start-up is not: one process copies a batch of pieces.
  const batches: PiecePlan[][] = [];
  for (let i = 0; i < plans.length; i += COPY_BATCH) batches.push(plans.slice(i, i + COPY_BATCH));
  await mapLimit(batches, 2, (batch) => copyPieces(from, p, gap, batch, ctx));
  const pieces = await mapLimit(plans, 2, async (plan) => {
    const { local, keyPts, timing } = await checkPiece(from, p, gap, plan, ctx);
    const file = await ctx.storage.upload(local, opts.working, pieceName(plan.index), { signal: ctx.signal });
    ctx.onProgress?.(++done / plans.length);
    return create(PieceSchema, {
      index: plan.index,
      file,
      framePts: framePts(plan),
      start: plan.start,
      duration: plan.duration,
      keyPts,
      fileTimeBase: timing.timeBase,
      fileFirstPts: timing.firstPts,
      sourceBytes: plan.sourceBytes,
    }) as Piece;
  });
  return create(SplitResultSchema, { source: p.info, pieces });
}

/** File name of piece `index` in the working folder. */
export function pieceName(index: number): string {
  return `piece-${String(index).padStart(5, '0')}.nut`;
}

/** The file pieces are cut from and the demuxer that reads it. */
interface Source {
  path: string;
  demuxer: string;
}

/** Pieces copied by one ffmpeg process. */
const COPY_BATCH = 12;

function seekArgs(p: Probe, gap: number, plan: PiecePlan): string[] {
  if (plan.keyFrame === 0) return [];
  return ['-seek_timestamp', '1', '-ss', secondsArg(p.frames[plan.keyFrame]!.pts + gap, p.timeBase)];
}

/** Stream-copies each planned piece: the source opened once per piece, seeking to its key frame. */
async function copyPieces(
  source: Source,
  p: Probe,
  gap: number,
  plans: PiecePlan[],
  ctx: OperationContext,
  counts?: number[],
) {
  const inputs = plans.flatMap((plan) => [
    ...seekArgs(p, gap, plan),
    ...inputArgs(source.demuxer),
    '-i',
    source.path,
  ]);
  const outputs = plans.flatMap((plan, i) => [
    '-map',
    `${i}:v:0`,
    '-c',
    'copy',
    '-frames:v',
    String(counts?.[i] ?? plan.packetCount),
    '-f',
    'nut',
    path.join(ctx.tmpDir, pieceName(plan.index)),
  ]);
  await run(binaries.ffmpeg, [...ffmpegBase(), '-copyts', ...inputs, ...outputs], {
    signal: ctx.signal,
    onStart: ctx.onCommand,
  });
}

/** Verifies a copied piece; re-copies it from where the seek really landed, or cuts it losslessly. */
async function checkPiece(
  source: Source,
  p: Probe,
  gap: number,
  plan: PiecePlan,
  ctx: OperationContext,
): Promise<{ local: string; keyPts: number; timing: { timeBase?: Ratio; firstPts?: number } }> {
  const out = path.join(ctx.tmpDir, pieceName(plan.index));
  const frames = p.frames.slice(plan.first, plan.end);
  const kf = p.frames[plan.keyFrame]!;
  let maxDecode = -1;
  for (const f of frames) maxDecode = Math.max(maxDecode, f.decodeIndex);
  const copy = (count: number) => copyPieces(source, p, gap, [plan], ctx, [count]);
  let check = await inspectPiece(out, p, frames, ctx.signal);
  // A sparse index (e.g. Matroska cues per cluster) makes the seek land on an earlier
  // key frame: copy again with enough packets from where it actually starts.
  if (check.start && check.start.pts < kf.pts) {
    await copy(maxDecode - check.start.decodeIndex + 1);
    check = await inspectPiece(out, p, frames, ctx.signal);
  }
  if (check.ok && check.start) return { local: out, keyPts: check.start.pts, timing: check };
  // The stream copy could not be made to hold the frames: cut a lossless intermediate instead.
  const first = frames[0]!;
  await run(
    binaries.ffmpeg,
    [
      ...ffmpegBase(),
      '-copyts',
      '-seek_timestamp',
      '1',
      '-ss',
      secondsArg(Math.max(p.frames[0]!.pts, first.pts - gap), p.timeBase),
      ...inputArgs(source.demuxer),
      '-i',
      source.path,
      '-map',
      '0:v:0',
      '-frames:v',
      String(frames.length),
      '-fps_mode',
      'passthrough',
      '-enc_time_base:v',
      '-1',
      '-c:v',
      'ffv1',
      '-level',
      '3',
      '-f',
      'nut',
      out,
    ],
    { signal: ctx.signal, onStart: ctx.onCommand },
  );
  const lossless = await inspectPiece(out, p, frames, ctx.signal, first);
  if (lossless.ok) return { local: out, keyPts: first.pts, timing: lossless };
  throw new AppError(ErrorKind.Permanent, `could not cut segment ${plan.index} frame-exactly from the input`);
}

/**
 * Finds which source key frame a cut piece starts at and whether it holds every
 * one of `frames`. Muxers may shift all of a piece's timestamps by a constant (to
 * avoid negative DTS); the shift is never negative and shorter than a GOP, so the
 * start is the latest source key frame at or before the piece's first timestamp.
 */
async function inspectPiece(
  piece: string,
  p: Probe,
  frames: Frame[],
  signal?: AbortSignal,
  knownStart?: Frame,
): Promise<{ ok: boolean; start?: Frame; timeBase?: Ratio; firstPts?: number }> {
  const { timeBase: pieceTb, packets } = await probeVideoPackets(piece, signal, 'nut');
  const firstPts = packets[0]?.pts;
  if (!packets[0]?.key || firstPts === undefined || !pieceTb) return { ok: false };
  const have = framesFromPackets(packets).map((f) => f.pts);
  const tolerance = Math.max(0.5, halfMinGap(have));
  const start = knownStart ?? keyFrameAtOrBefore(p.frames, p.timeBase, pieceTb, firstPts + tolerance);
  if (!start) return { ok: false };
  const shift = firstPts - rescale(start.pts, p.timeBase, pieceTb);
  let i = 0;
  for (const f of frames) {
    const want = rescale(f.pts, p.timeBase, pieceTb) + shift;
    while (i < have.length && have[i]! < want - tolerance) i++;
    if (i >= have.length || Math.abs(have[i]! - want) > tolerance) return { ok: false, start };
  }
  return { ok: true, start, timeBase: pieceTb, firstPts };
}

/**
 * The latest key frame of `frames` (presentation order, pts in time base `from`)
 * whose pts in time base `to` is at most `limit`; undefined when none. A binary
 * search for the last frame not beyond `limit`, then back to its key frame (at
 * most one group of pictures): a long source has many pieces to check.
 */
export function keyFrameAtOrBefore(
  frames: readonly Frame[],
  from: Ratio,
  to: Ratio,
  limit: number,
): Frame | undefined {
  // The first frame beyond `limit` (rescaling keeps the order of timestamps).
  let lo = 0;
  let hi = frames.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rescale(frames[mid]!.pts, from, to) > limit) hi = mid;
    else lo = mid + 1;
  }
  for (let k = lo - 1; k >= 0; k--) if (frames[k]!.key) return frames[k];
  return undefined;
}
