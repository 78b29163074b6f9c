// Event-loop stalls of one process, for the paced dispatch trace: a timer due
// every `periodMs` that notes when it fired late (a blocked loop or a process the
// OS did not run), as wall-clock windows both processes can compare, with what
// the main thread did meanwhile (ran, waited for a core, or slept) and the GC pauses.
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

/** A window (epoch ms) in which the process ran no JavaScript it was due to run. */
export interface Stall {
  from: number;
  to: number;
  /** Time the main thread ran on a core during the window, ms (Linux schedstat; absent elsewhere). */
  cpuMs?: number;
  /** Time the main thread was runnable but waited for a core (the host's load), ms. */
  waitMs?: number;
  /** CPU time of the process's other threads (GC helpers, SQLite checkpoints, libuv pool), ms. */
  otherMs?: number;
}

/** A garbage-collection pause (epoch ms) and its kind (`scavenge`, `mark-sweep`, ...). */
export interface GcPause {
  from: number;
  to: number;
  kind: string;
}

/** The main thread's time on a core and waiting for one, and the whole process's CPU, ms (undefined off Linux). */
function schedstat(): { cpu: number; wait: number; process: number } | undefined {
  try {
    const [cpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    const usage = process.cpuUsage();
    return { cpu: cpu! / 1e6, wait: wait! / 1e6, process: (usage.user + usage.system) / 1000 };
  } catch {
    return undefined;
  }
}

/** The main thread's CPU time (ms) in the tick that ended at `at` (epoch ms). */
export interface Tick {
  at: number;
  cpuMs: number;
}

/**
 * Records stalls longer than `overMs` until `stop()`; with `keepTicks`, also every
 * tick's CPU time, so another process's stalls can be matched against this one's work.
 */
export function recordStalls(
  periodMs = 5,
  overMs = 5,
  keepTicks = false,
): { stalls: Stall[]; ticks: Tick[]; stop: () => void } {
  const stalls: Stall[] = [];
  const ticks: Tick[] = [];
  let last = performance.now();
  let lastSched = schedstat();
  const timer = setInterval(() => {
    const now = performance.now();
    const sched = schedstat();
    if (now - last - periodMs > overMs) {
      const stall: Stall = {
        from: performance.timeOrigin + last + periodMs,
        to: performance.timeOrigin + now,
      };
      if (sched && lastSched) {
        stall.cpuMs = sched.cpu - lastSched.cpu;
        stall.waitMs = sched.wait - lastSched.wait;
        stall.otherMs = sched.process - lastSched.process - stall.cpuMs;
      }
      stalls.push(stall);
    }
    if (keepTicks && sched && lastSched)
      ticks.push({ at: performance.timeOrigin + now, cpuMs: sched.cpu - lastSched.cpu });
    last = now;
    lastSched = sched;
  }, periodMs);
  timer.unref();
  return { stalls, ticks, stop: () => clearInterval(timer) };
}

const GC_KINDS: Record<number, string> = {
  1: 'scavenge',
  2: 'minor-mark-sweep',
  4: 'mark-sweep',
  8: 'weak-callbacks',
};

/** Records this process's GC pauses until `stop()`. */
export function recordGc(): { pauses: GcPause[]; stop: () => void } {
  const pauses: GcPause[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      const from = performance.timeOrigin + e.startTime;
      pauses.push({ from, to: from + e.duration, kind: GC_KINDS[kind] ?? String(kind) });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { pauses, stop: () => observer.disconnect() };
}
