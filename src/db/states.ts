// Job and task states and task kinds, as stored in the database. The rules for
// moving between states live in one place: src/coordinator/decide.ts.

export const TaskState = {
  Queued: 'queued',
  Running: 'running',
  Succeeded: 'succeeded',
  Failed: 'failed',
  Cancelled: 'cancelled',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

export const JobState = {
  Queued: 'queued',
  Running: 'running',
  Succeeded: 'succeeded',
  Failed: 'failed',
  Cancelled: 'cancelled',
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];

export const TaskKind = {
  Split: 'split',
  Encode: 'encode',
  Audio: 'audio',
  Manifest: 'manifest',
} as const;
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];

/** How one run (claim) of a task ended, recorded in `task_runs`. */
export const RunOutcome = {
  Succeeded: 'succeeded',
  Failed: 'failed',
  Retried: 'retried',
  Expired: 'expired',
  Released: 'released',
  Cancelled: 'cancelled',
} as const;
export type RunOutcome = (typeof RunOutcome)[keyof typeof RunOutcome];

/** Whether a job in this state can no longer change. */
export function isTerminalJobState(state: JobState): boolean {
  return state === JobState.Succeeded || state === JobState.Failed || state === JobState.Cancelled;
}
