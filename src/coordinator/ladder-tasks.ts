// Which encode tasks a job gets once its source is split: the pieces in
// consecutive groups, each group one task that encodes every rung of the ladder
// (all rungs share their key frames and decode the source once), or one task per
// rung and group when the fleet is unknown. One pure function, called where the
// split's result creates the job's tasks.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { EncodeTaskSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Piece, Rendition, SourceInfo } from '../gen/avspl1t/v1/media_pb.js';
import type { Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { childFolder } from '../storage/index.js';
import { groupPieces } from './schedule-policy.js';
import { encodeTaskIdx } from './task-index.js';

export interface PlannedEncode {
  /**
   * The task's index (encodeTaskIdx), so the encode tasks of a job tile
   * 0 .. rungs × pieces (progress counts segments by it).
   */
  idx: number;
  /** Claim order among the job's encodes, 0 = first (costliest first). */
  rank: number;
  task: MessageInitShape<typeof EncodeTaskSchema>;
}

/** Where rung `rendition` writes: its own folder under the media folder (none for the single rendition). */
export function rungOutput(media: Folder, rendition: Rendition): Folder {
  return rendition.name ? childFolder(media, rendition.name) : media;
}

/**
 * Whether a ladder job's encode task covers every rung of its pieces (one decode
 * of them for all rungs) or one rung: every rung together when the job's tasks are
 * sized for known slots (`parallelism` > 0) or published segment by segment
 * (progressive, `timeline`); one rung per task when the fleet is unknown
 * (`parallelism` 0), so a segment's rungs spread over as many workers (a task of
 * every rung lasts six rungs' time, too coarse for a large fleet: bench/REPORT.md,
 * "Ladder-shaped jobs").
 */
export function rungsTogether(rungs: number, parallelism: number, timeline: boolean): boolean {
  return rungs > 1 && (parallelism > 0 || timeline);
}

/**
 * The encode tasks of a job: the pieces grouped (groupPieces, a task's cost the
 * sum of its rungs'), each group one task that encodes every rung of the ladder
 * from one decode of its pieces (EncodeTask.rungs), so all rungs share their key
 * frames — or, when rungsTogether says no, one task per rung and group
 * (EncodeTask.rendition), every rung with the same groups; ranked costliest first
 * (longest processing time first), a task's cost being its pieces' source bytes
 * (frames when a size is unknown), times its rung's pixels for a one-rung task;
 * the last `parallelism` tasks to start are tails (see isTail). `timeline`: a
 * progressive job's order instead, by first piece, so the published prefix grows
 * from the start. The single rendition keeps the one-rung task.
 */
export function ladderEncodeTasks(
  pieces: readonly Piece[],
  ladder: readonly Rendition[],
  source: SourceInfo,
  media: Folder,
  parallelism: number,
  timeline = false,
): PlannedEncode[] {
  const groups = groupPieces(pieces, parallelism);
  const bytesKnown = pieces.every((p) => p.sourceBytes > 0);
  const groupCost = groups.map((g) =>
    g.reduce((t, p) => t + (bytesKnown ? p.sourceBytes : p.framePts.length), 0),
  );
  const planned = rungsTogether(ladder.length, parallelism, timeline)
    ? groups.map((group, g) => ({
        idx: encodeTaskIdx({ rung: -1, piece: group[0]!.index }, ladder.length, pieces.length),
        cost: groupCost[g]!,
        task: {
          pieces: group,
          source,
          rungs: ladder.map((rendition, r) => ({
            rendition,
            renditionIndex: r,
            output: rungOutput(media, rendition),
          })),
        },
      }))
    : ladder.flatMap((rendition, r) =>
        groups.map((group, g) => ({
          idx: encodeTaskIdx({ rung: r, piece: group[0]!.index }, ladder.length, pieces.length),
          cost: rungPixels(rendition, source) * groupCost[g]!,
          task: {
            pieces: group,
            source,
            output: rungOutput(media, rendition),
            settings: rendition.settings,
            rendition,
            renditionIndex: r,
          },
        })),
      );
  const first = (i: number) => planned[i]!.task.pieces[0]!.index;
  const order = planned
    .map((_, i) => i)
    .sort((a, b) => (timeline ? first(a) - first(b) : planned[b]!.cost - planned[a]!.cost) || a - b);
  const rank: number[] = [];
  order.forEach((p, k) => {
    rank[p] = k;
  });
  return planned.map((p, i) => ({
    idx: p.idx,
    rank: rank[i]!,
    task: { ...p.task, tail: isTail(rank[i]!, planned.length, parallelism) },
  }));
}

/** A rung's pixels per frame (the source's when the rung keeps its size). */
function rungPixels(rendition: Rendition, source: SourceInfo): number {
  return (rendition.width || source.width || 1) * (rendition.height || source.height || 1);
}

/**
 * Whether the task handed out `rank`-th of `count` runs at full width (every core):
 * one of the last `parallelism` to start, as the other slots run dry, but not one of a
 * first wave that fills every slot, where full width would oversubscribe the cores for
 * the whole run (bench/REPORT.md, "Short clip").
 */
export function isTail(rank: number, count: number, parallelism: number): boolean {
  const firstWaveFillsSlots = rank < parallelism && count >= parallelism;
  return rank >= count - parallelism && !firstWaveFillsSlots;
}
