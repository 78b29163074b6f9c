// Scheduling policy: how a job's pieces become encode tasks for its slots (how
// many, how long, which first). The media facts it needs (which pieces one encoder
// run can make) come from media/plan.ts.
import { joinsRun } from '../media/plan.js';

/** Most segments one encode task covers (bounds a task's length, memory and retry cost). */
export const MAX_SEGMENTS_PER_TASK = 8;

/**
 * An encoder run's fixed cost (start-up, pipeline fill and flush), in segments of
 * encode work: what encoding a segment more in the same run costs less than a run
 * of its own. The measurements behind it: bench/REPORT.md, "Numbers behind constants".
 */
export const RUN_COST = 0.3;

/** Guided task sizes tried: each task takes remaining cost / (divisor × parallelism). */
const DIVISORS = [2, 1, 0.5];

type Plannable = { inSource: boolean; framePts: readonly unknown[]; sourceBytes: number };

/**
 * Groups consecutive pieces into encode tasks for `parallelism` slots (guided
 * self-scheduling): each task takes its share of the cost still ungrouped,
 * remaining / (d × parallelism), at most MAX_SEGMENTS_PER_TASK segments, so the
 * first tasks amortize the encoder's start-up over several segments and the last
 * ones are small enough to keep every slot busy to the end; a short source (up to
 * EXHAUSTIVE_MAX_PIECES pieces) tries every grouping instead. Of the plans tried,
 * the one that finishes first when its tasks run longest-first on the slots (each
 * costing RUN_COST more) wins; ties go to fewer tasks. A piece's cost
 * is its share of the source's coded bytes (busy scenes cost more), or of the
 * frames when sizes are unknown. Only pieces that can be one encoder run share a
 * task (see joinsRun). parallelism 0 = one segment per task. A ladder's task
 * encodes every rung of its group, so its cost is the sum of its rungs': the same
 * factor on every task, which leaves the best grouping as it is.
 */
export function groupPieces<P extends Plannable>(pieces: readonly P[], parallelism: number): P[][] {
  if (parallelism <= 0) return pieces.map((p) => [p]);
  const cost = pieceCosts(pieces);
  const candidates =
    pieces.length <= EXHAUSTIVE_MAX_PIECES
      ? everyGrouping(pieces)
      : DIVISORS.map((d) => guided(pieces, cost, parallelism * d));
  let best: { groups: P[][]; span: number } | undefined;
  for (const groups of candidates) {
    const runs = groups.map((g) => RUN_COST + g.reduce((t, p) => t + cost.get(p)!, 0));
    const span = makespan(runs, parallelism);
    const better =
      !best || span < best.span - 1e-9 || (span <= best.span + 1e-9 && groups.length < best.groups.length);
    if (better) best = { groups, span };
  }
  return best!.groups;
}

/**
 * Up to this many pieces (a short source), groupPieces tries every way of cutting
 * them into encoder runs (at most 2^(n-1)) instead of the guided sizes: few tasks,
 * so each encoder start-up saved or slot left idle is a visible share of the job.
 */
export const EXHAUSTIVE_MAX_PIECES = 12;

/** Every cut of `pieces` into consecutive groups that can each be one encoder run (see joinsRun). */
function everyGrouping<P extends Plannable>(pieces: readonly P[]): P[][][] {
  if (pieces.length === 0) return [[]];
  const out: P[][][] = [];
  for (let n = 1; n <= Math.min(pieces.length, MAX_SEGMENTS_PER_TASK); n++) {
    const first = pieces.slice(0, n);
    if (n > 1 && !joinsRun(first)) break;
    for (const rest of everyGrouping(pieces.slice(n))) out.push([first, ...rest]);
  }
  return out;
}

/**
 * Each piece's encode cost: the source's coded bytes of its frames (busy scenes
 * cost more to encode and to code), or its frame count when any size is unknown.
 */
function rawCosts(pieces: readonly { sourceBytes: number; framePts: readonly unknown[] }[]): number[] {
  const known = pieces.every((p) => p.sourceBytes > 0);
  return pieces.map((p) => (known ? p.sourceBytes : p.framePts.length));
}

/** Each piece's encode cost in segments of average cost (see rawCosts). */
function pieceCosts<P extends Plannable>(pieces: readonly P[]): Map<P, number> {
  const raw = rawCosts(pieces);
  const mean = raw.reduce((a, b) => a + b, 0) / Math.max(1, raw.length) || 1;
  return new Map(pieces.map((p, i) => [p, raw[i]! / mean]));
}

/** Guided grouping: each task takes about remaining cost / `shares` (at least one piece). */
function guided<P extends Plannable>(pieces: readonly P[], cost: Map<P, number>, shares: number): P[][] {
  const groups: P[][] = [];
  let remaining = pieces.reduce((t, p) => t + cost.get(p)!, 0);
  let i = 0;
  while (i < pieces.length) {
    const target = remaining / shares;
    const group = [pieces[i]!];
    let sum = cost.get(group[0]!)!;
    for (;;) {
      const next = pieces[i + group.length];
      if (!next || group.length >= MAX_SEGMENTS_PER_TASK || !joinsRun([...group, next])) break;
      // Take the next piece while the task stays nearer its target with it than without.
      const c = cost.get(next)!;
      if (sum + c / 2 > target) break;
      group.push(next);
      sum += c;
    }
    groups.push(group);
    remaining -= sum;
    i += group.length;
  }
  return groups;
}

/** When the last of `costs` ends, run longest first, each on the slot free first. */
function makespan(costs: readonly number[], slots: number): number {
  // Slots beyond one per task stay idle: the array is sized by the tasks, never by `slots` alone.
  const free = Array<number>(Math.max(1, Math.min(slots, costs.length))).fill(0);
  for (const c of [...costs].sort((a, b) => b - a)) {
    let k = 0;
    for (let j = 1; j < free.length; j++) if (free[j]! < free[k]!) k = j;
    free[k] = free[k]! + c;
  }
  return free.reduce((a, b) => Math.max(a, b), 0);
}

/**
 * Claim order of encode tasks: longest first (LPT), so the last tasks to start are
 * the cheapest and no slot waits long on one hard segment at the end. A task's
 * cost is the sum of its pieces' (rawCosts). Returns each group's rank (0 =
 * first), ties in index order.
 */
export function longestFirst<P extends { sourceBytes: number; framePts: readonly unknown[] }>(
  groups: readonly (readonly P[])[],
): number[] {
  const raw = rawCosts(groups.flat());
  let at = 0;
  const cost = groups.map((g) => {
    const sum = raw.slice(at, at + g.length).reduce((a, b) => a + b, 0);
    at += g.length;
    return sum;
  });
  const order = groups.map((_, i) => i).sort((a, b) => cost[b]! - cost[a]! || a - b);
  const rank: number[] = [];
  order.forEach((g, r) => {
    rank[g] = r;
  });
  return rank;
}
