// In-process wake-ups for long polls (new work) and job watchers (job changed).
// Other coordinators on the same database cannot reach these, so waiters also
// wake on a short timer and look at the database themselves.

import { MAX_TIMER_MS } from '../timers.js';
/** A generation counter that waiters can sleep on until it moves. */
export class Notifier {
  private generation = 0;
  private readonly waiters = new Set<() => void>();

  /** The current generation; pass it to `wait` to not miss a notify that happens in between. */
  get current(): number {
    return this.generation;
  }

  /**
   * Wakes waiters: every one, or the `count` that waited longest (new work for
   * `count` tasks should not wake a crowd that then races for them). Those left
   * asleep still wake on their own timer.
   */
  notify(count = Number.POSITIVE_INFINITY): void {
    this.generation++;
    for (const wake of this.waiters) {
      if (count-- <= 0) break;
      wake();
    }
  }

  /**
   * Resolves once the generation differs from `since`, after `ms`, or when `signal`
   * aborts: true when a notify woke it (or had already moved the generation).
   */
  wait(since: number, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.generation !== since) return Promise.resolve(true);
    if (signal?.aborted || ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(onNotify);
        resolve(woken);
      };
      const onNotify = () => done(true);
      const onAbort = () => done(false);
      // A wait may end early (callers look again), so a longer one is simply capped.
      const timer = setTimeout(onAbort, Math.min(ms, MAX_TIMER_MS));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(onNotify);
    });
  }
}
