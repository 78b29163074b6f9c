// The chaos soak's fault schedule: a pure function of the seed and the run's length, so a
// printed seed replays the same faults at the same moments on the same targets.

/** What a fault does to its target. */
export const FaultKind = {
  WorkerKill: 'worker-kill',
  WorkerPause: 'worker-pause',
  WorkerLinkCut: 'worker-link-cut',
  WorkerDiskReadOnly: 'worker-disk-read-only',
  CoordinatorKill: 'coordinator-kill',
  CoordinatorPause: 'coordinator-pause',
  CoordinatorLinkCut: 'coordinator-link-cut',
  PostgresRestart: 'postgres-restart',
  S3Restart: 's3-restart',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/** One fault: from `atMs` (after the fault phase starts) for `durationMs`, on one target. */
export interface Fault {
  atMs: number;
  kind: FaultKind;
  /** `w1`..`wN`, `c1`/`c2`, `postgres` or `s3`. */
  target: string;
  /** Pause, cut or read-only time; for a kill or restart, how long the target stays down. */
  durationMs: number;
}

/** The cluster the schedule is drawn for. */
export interface ScheduleOptions {
  seed: number;
  faultPhaseMs: number;
  workers: number;
  /** The coordinators' lease: two pauses in three outlast it (pause-past-lease trials). */
  leaseMs: number;
  /** Mean time between two faults. */
  meanGapMs: number;
}

/** mulberry32: a small seeded generator of floats in [0, 1); the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Relative weights of the kinds: worker kills and pauses most, as the trial counts ask. */
const WEIGHTS: [FaultKind, number][] = [
  [FaultKind.WorkerKill, 7],
  [FaultKind.WorkerPause, 11],
  [FaultKind.WorkerLinkCut, 1.5],
  [FaultKind.WorkerDiskReadOnly, 1.5],
  [FaultKind.CoordinatorKill, 1.5],
  [FaultKind.CoordinatorPause, 1],
  [FaultKind.CoordinatorLinkCut, 1],
  [FaultKind.PostgresRestart, 1],
  [FaultKind.S3Restart, 1],
];

/**
 * Draws the faults of a run. One fault at a time per target (a worker is not killed while paused);
 * a fault whose target is busy is skipped, not moved, so the draw never depends on timing.
 */
export function makeSchedule(options: ScheduleOptions): Fault[] {
  const random = seededRandom(options.seed);
  const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
  const total = WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
  const busyUntil = new Map<string, number>();
  const faults: Fault[] = [];
  let at = between(1_000, options.meanGapMs);
  while (at < options.faultPhaseMs) {
    const kind = pickKind(random() * total);
    // A busy target is passed over for a free one of the same role; with none free the fault is skipped.
    const free = targetsOf(kind, options.workers).filter((t) => (busyUntil.get(t) ?? 0) <= at);
    const target = free[Math.floor(random() * free.length)];
    const durationMs = drawDuration(kind, options.leaseMs, random, between);
    if (target !== undefined) {
      faults.push({ atMs: at, kind, target, durationMs });
      // A restarted program needs a few seconds before it can take the next fault.
      busyUntil.set(target, at + durationMs + (restarts(kind) ? 3_000 : 1_000));
    }
    at += between(options.meanGapMs / 2, (options.meanGapMs * 3) / 2);
  }
  return faults;
}

/** The kind whose weight range holds `point` (0 <= point < total weight). */
function pickKind(point: number): FaultKind {
  let rest = point;
  for (const [kind, weight] of WEIGHTS) {
    if (rest < weight) return kind;
    rest -= weight;
  }
  return FaultKind.WorkerKill;
}

/** Whether the fault ends with its target's program started again. */
function restarts(kind: FaultKind): boolean {
  return (
    kind === FaultKind.WorkerKill ||
    kind === FaultKind.CoordinatorKill ||
    kind === FaultKind.PostgresRestart ||
    kind === FaultKind.S3Restart
  );
}

/** The targets a kind of fault can hit. */
function targetsOf(kind: FaultKind, workers: number): string[] {
  switch (kind) {
    case FaultKind.PostgresRestart:
      return ['postgres'];
    case FaultKind.S3Restart:
      return ['s3'];
    case FaultKind.CoordinatorKill:
    case FaultKind.CoordinatorPause:
    case FaultKind.CoordinatorLinkCut:
      return ['c1', 'c2'];
    default:
      return Array.from({ length: workers }, (_, i) => `w${i + 1}`);
  }
}

function drawDuration(
  kind: FaultKind,
  leaseMs: number,
  random: () => number,
  between: (lo: number, hi: number) => number,
): number {
  switch (kind) {
    case FaultKind.WorkerPause:
    case FaultKind.CoordinatorPause:
      // A third shorter than the lease (the lease must survive), the rest past it (it must move on).
      return random() < 1 / 3 ? between(1_000, leaseMs / 2) : between(leaseMs + 2_000, leaseMs + 8_000);
    case FaultKind.WorkerLinkCut:
    case FaultKind.CoordinatorLinkCut:
      return between(5_000, 60_000);
    case FaultKind.WorkerDiskReadOnly:
      return between(5_000, 40_000);
    default:
      // Kills and restarts: down for a moment before the program is started again.
      return between(500, 4_000);
  }
}

/** Counts of a schedule by kind, every kind listed. */
export function countByKind(faults: readonly Fault[]): Record<FaultKind, number> {
  const counts = Object.fromEntries(Object.values(FaultKind).map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of faults) counts[f.kind]++;
  return counts;
}
