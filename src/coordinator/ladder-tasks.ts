// Which encode tasks a job gets once its source is split: every rung of the
// ladder encodes every piece, in the same consecutive groups, so all rungs share
// their key frames. One pure function, called where the split's result creates
// the job's tasks.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { EncodeTaskSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Piece, Rendition, SourceInfo } from '../gen/avspl1t/v1/media_pb.js';
import type { Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { codecOf } from '../media/ladder.js';
import { childFolder } from '../storage/index.js';
import { groupPieces } from './schedule-policy.js';

/** Relative encode cost per pixel of each codec (AV1 encoders are several times slower than x264). */
export const CODEC_COST = { av1: 4, h264: 1 } as const;

export interface PlannedEncode {
  /**
   * The task's index: rung × pieces + its first piece, so the encode tasks of a
   * job tile 0 .. rungs × pieces (progress counts segments by it).
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
 * The encode tasks of a job: for each rung, the pieces grouped the same way
 * (groupPieces, timed with every rung's tasks on the slots), so every rung has
 * the same tasks' boundaries; ranked
 * costliest first (longest processing time first), a task's cost being its
 * rung's pixels × codec cost × its pieces' source bytes (frames when a size is
 * unknown); the last `parallelism` tasks to start are tails (see isTail). `timeline`: a
 * progressive job's order instead, segment by segment (every rung of a segment
 * before the next), so the published prefix grows from the start.
 */
export function ladderEncodeTasks(
  pieces: readonly Piece[],
  ladder: readonly Rendition[],
  source: SourceInfo,
  media: Folder,
  parallelism: number,
  timeline = false,
): PlannedEncode[] {
  const rungCost = ladder.map((rendition) => {
    const pixels = (rendition.width || source.width) * (rendition.height || source.height);
    return pixels * CODEC_COST[codecOf(rendition.settings?.encoder ?? 'svt')];
  });
  const heaviest = Math.max(...rungCost) || 1;
  const groups = groupPieces(
    pieces,
    parallelism,
    rungCost.map((c) => c / heaviest),
  );
  const bytesKnown = pieces.every((p) => p.sourceBytes > 0);
  const groupCost = groups.map((g) =>
    g.reduce((t, p) => t + (bytesKnown ? p.sourceBytes : p.framePts.length), 0),
  );
  const planned = ladder.flatMap((rendition, r) => {
    return groups.map((group, g) => ({
      idx: r * pieces.length + group[0]!.index,
      cost: rungCost[r]! * groupCost[g]!,
      task: {
        pieces: group,
        source,
        output: rungOutput(media, rendition),
        settings: rendition.settings,
        rendition,
        renditionIndex: r,
      },
    }));
  });
  const first = (i: number) => planned[i]!.task.pieces[0]!.index;
  const order = planned
    .map((_, i) => i)
    .sort((a, b) => (timeline ? first(a) - first(b) || a - b : planned[b]!.cost - planned[a]!.cost || a - b));
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
