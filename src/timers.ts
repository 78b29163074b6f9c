// Timers for delays computed from inputs (task timeouts, backoffs): Node's
// setTimeout fires at once, with a TimeoutOverflowWarning, for any delay above
// 2^31-1 ms (about 24.8 days), so a long delay is waited out in chunks.

/** The longest delay setTimeout honours, in milliseconds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending long timeout; `clear` cancels it. */
export interface LongTimer {
  clear(): void;
}

export interface LongTimerOptions {
  /** Let the process exit while only this timer is pending. */
  unref?: boolean;
  /** Longest single setTimeout (tests use a small one to see the chunks). */
  chunkMs?: number;
}

/**
 * Calls `fn` once `ms` milliseconds have passed, however long that is (NaN or
 * negative: at once, as setTimeout does).
 */
export function setLongTimeout(fn: () => void, ms: number, options: LongTimerOptions = {}): LongTimer {
  const chunk = Math.min(options.chunkMs ?? MAX_TIMER_MS, MAX_TIMER_MS);
  const due = Date.now() + (Number.isFinite(ms) ? Math.max(0, ms) : ms > 0 ? Number.POSITIVE_INFINITY : 0);
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const left = due - Date.now();
    timer = left > chunk ? setTimeout(arm, chunk) : setTimeout(fn, Math.max(0, left));
    if (options.unref) timer.unref();
  };
  arm();
  return { clear: () => clearTimeout(timer) };
}
