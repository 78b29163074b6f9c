// Pure planning of the split: which frames belong to which segment, which packets
// (from a key frame on) a stream-copied piece needs to decode them, and which
// pieces one encoder run can make. How pieces become tasks: coordinator/schedule-policy.ts.
import type { Frame } from './probe.js';
import type { Ratio } from './rational.js';

export interface PiecePlan {
  index: number;
  /** First and one-past-last frame (presentation order) of the segment. */
  first: number;
  end: number;
  /** The key frame the stream copy starts at (index into frames). */
  keyFrame: number;
  /** Packets (decode order) to copy, starting at the key frame's packet. */
  packetCount: number;
  /** Segment start on the output timeline and its duration, in time-base ticks. */
  start: number;
  duration: number;
  /** Coded bytes of the segment's frames in the source. */
  sourceBytes: number;
}

/**
 * Cuts `frames` (presentation order) into segments of `secondsPerSegment`: frame j
 * goes to segment floor((pts_j - pts_0) / S). Empty segments (gaps in VFR input)
 * are skipped, so indexes stay consecutive.
 */
export function planPieces(frames: Frame[], timeBase: Ratio, secondsPerSegment: number): PiecePlan[] {
  if (frames.length === 0) return [];
  const ticksPerSegment = (secondsPerSegment * timeBase.den) / timeBase.num;
  const pts0 = frames[0]!.pts;
  const last = frames[frames.length - 1]!;
  const endPts = last.pts + last.duration;
  const bucketOf = (f: Frame) => Math.floor((f.pts - pts0) / ticksPerSegment + 1e-9);

  const plans: PiecePlan[] = [];
  let first = 0;
  while (first < frames.length) {
    const bucket = bucketOf(frames[first]!);
    let end = first + 1;
    // A frame whose timestamp was moved stays with the frame it shared a timestamp
    // with: the encode finds frames by their timestamps in the file.
    while (end < frames.length && (bucketOf(frames[end]!) === bucket || frames[end]!.moved)) end++;
    const keyFrame = keyFrameFor(frames, first, end);
    let maxDecode = -1;
    let sourceBytes = 0;
    for (let j = first; j < end; j++) {
      maxDecode = Math.max(maxDecode, frames[j]!.decodeIndex);
      sourceBytes += frames[j]!.size;
    }
    const nextPts = end < frames.length ? frames[end]!.pts : endPts;
    plans.push({
      index: plans.length,
      first,
      end,
      keyFrame,
      packetCount: maxDecode - frames[keyFrame]!.decodeIndex + 1,
      start: frames[first]!.pts - pts0,
      duration: nextPts - frames[first]!.pts,
      sourceBytes,
    });
    first = end;
  }
  return plans;
}

/** The latest key frame at or before `first` whose packet precedes every packet of the range. */
export function keyFrameFor(frames: Frame[], first: number, end: number): number {
  let minDecode = Number.POSITIVE_INFINITY;
  for (let j = first; j < end; j++) minDecode = Math.min(minDecode, frames[j]!.decodeIndex);
  for (let k = first; k >= 0; k--) {
    const f = frames[k]!;
    if (f.key && f.decodeIndex <= minDecode) return k;
  }
  throw new Error(`no key frame before frame ${first}`);
}

/** Half the smallest gap between frames: a safe tolerance for matching timestamps. */
export function halfMinGap(pts: number[]): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 1; i < pts.length; i++) min = Math.min(min, pts[i]! - pts[i - 1]!);
  return Number.isFinite(min) ? min / 2 : 0.5;
}

/** RFC 8216 §4.3.3.1: EXT-X-TARGETDURATION is the longest EXTINF rounded to the nearest integer. */
export function targetDuration(durationsSeconds: readonly number[]): number {
  // A loop, not a spread into Math.max: a long source has more segments than a call takes arguments.
  let longest = 1;
  for (const d of durationsSeconds) longest = Math.max(longest, Math.round(d));
  return longest;
}

/**
 * Whether `pieces` (consecutive) can be one encoder run with a key frame every n
 * frames, n the first piece's frame count: all ranges of the source, every piece
 * n frames long except the last, which may be shorter (the run ends inside its
 * group of pictures, as the source's last segment usually does), and n at least 2
 * (one-frame segments would change the encoder's GOP mode, so the init segment).
 */
export function joinsRun(pieces: readonly { inSource: boolean; framePts: readonly unknown[] }[]): boolean {
  const n = pieces[0]?.framePts.length ?? 0;
  return (
    n >= 2 &&
    pieces.every(
      (p, i) =>
        p.inSource &&
        (i === pieces.length - 1
          ? p.framePts.length >= 1 && p.framePts.length <= n
          : p.framePts.length === n),
    )
  );
}
