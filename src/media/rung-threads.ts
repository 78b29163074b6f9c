// How many threads each rung's encoder may use when one ffmpeg encodes several
// rungs of a ladder from one decode.

/**
 * The thread cap of each rung's encoder in one ffmpeg run of `rungs` encoders,
 * given the slot's threads (`undefined`: a tail task, every core). A slot's budget
 * is divided among its rungs, at least one each, so the slots running at once do
 * not oversubscribe the cores. A tail task runs as the other slots run dry: its
 * encoders keep their defaults (every core), as one ffmpeg writing the whole
 * ladder does; one thread per rung left the lone last run on about one core
 * (bench/REPORT.md, "Ladder").
 */
export function rungThreads(rungs: number, slotThreads: number | undefined): number | undefined {
  if (slotThreads === undefined) return undefined;
  return rungs > 1 ? Math.max(1, Math.floor(slotThreads / rungs)) : slotThreads;
}
