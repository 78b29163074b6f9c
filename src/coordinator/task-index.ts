// The index (idx) of a ladder job's encode task and the place it stands for:
// one formula for both task layouts, used where the tasks are made
// (ladder-tasks.ts) and where progress is read back from them (job-view.ts).

/** Where an encode task sits in its job: its rung (-1: every rung) and its first piece. */
export interface TaskPlace {
  rung: number;
  piece: number;
}

/**
 * The idx of the encode task at `place` in a job of `rungs` rungs and `pieces`
 * pieces, so a job's encode tasks tile 0 .. rungs × pieces: a task of every rung
 * is first piece × rungs, a one-rung task rung × pieces + first piece.
 */
export function encodeTaskIdx(place: TaskPlace, rungs: number, pieces: number): number {
  return place.rung < 0 ? place.piece * rungs : place.rung * pieces + place.piece;
}

/**
 * The place an encode task's idx stands for (the inverse of encodeTaskIdx);
 * `together`: the job's tasks each cover every rung. Counts that cannot hold a
 * ladder read as rung 0, piece idx.
 */
export function encodeTaskPlace(idx: number, rungs: number, pieces: number, together: boolean): TaskPlace {
  if (together && rungs > 1) return { rung: -1, piece: Math.floor(idx / rungs) };
  if (!Number.isInteger(pieces) || pieces <= 0) return { rung: 0, piece: idx };
  return { rung: Math.floor(idx / pieces), piece: idx % pieces };
}
