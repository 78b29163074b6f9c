// How long a worker may spend on a task before giving up (it reports a transient
// failure and the task is retried). Derived from the work's media duration, with
// generous floors: AV1 at slow presets can run far below real time.
import type { Task } from '../gen/avspl1t/v1/coordinator_pb.js';

function seconds(duration: number, timeBase?: { num: number; den: number }): number {
  if (!timeBase?.den) return 0;
  return (duration * timeBase.num) / timeBase.den;
}

/** The most Task.timeout_seconds holds (uint32); a source's timestamps may claim any duration. */
const MAX_TIMEOUT_SECONDS = 2 ** 32 - 1;

/** Seconds allowed for a task. */
export function timeoutSeconds(task: Task): number {
  const s = allowedSeconds(task);
  return Number.isFinite(s) ? Math.min(s, MAX_TIMEOUT_SECONDS) : MAX_TIMEOUT_SECONDS;
}

function allowedSeconds(task: Task): number {
  switch (task.kind.case) {
    case 'split':
      return 3600;
    case 'encode': {
      const k = task.kind.value;
      const duration = k.pieces.reduce((t, p) => t + p.duration, 0);
      return Math.ceil(900 + 600 * seconds(duration, k.source?.timeBase));
    }
    case 'audio': {
      const k = task.kind.value;
      return Math.ceil(900 + 2 * seconds(k.source?.duration ?? 0, k.source?.timeBase));
    }
    case 'manifest':
      return 600;
    default:
      return 3600;
  }
}
