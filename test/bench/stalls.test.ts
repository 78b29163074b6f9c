// The paced trace's stall recorder (bench/stalls.ts): it must tell a main thread
// that ran through a stall from one that slept, or the trace's causes mean nothing.
// CPU time comes from process.threadCpuUsage (clock_gettime), not from the
// recorder's /proc schedstat, and wall time from Atomics.wait.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordGc, recordStalls, type Stall } from '../../bench/stalls.js';

const linux = existsSync('/proc/thread-self/schedstat');
const threadCpuMs = () => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const longest = (stalls: Stall[]) => stalls.reduce((a, b) => (b.to - b.from > a.to - a.from ? b : a));

describe('recordStalls', { skip: !linux && 'needs Linux /proc schedstat' }, () => {
  it('a main thread busy for 60 ms of CPU shows as a stall in which it ran about that long', async () => {
    const rec = recordStalls();
    await sleep(20);
    const start = threadCpuMs();
    while (threadCpuMs() - start < 60) {
      // spin: CPU time, whatever the host's load does to wall time
    }
    const spun = threadCpuMs() - start;
    await sleep(20);
    rec.stop();
    const s = longest(rec.stalls);
    assert.ok(s.to - s.from >= 55, `stall ${s.to - s.from} ms`);
    // The spin plus the few timer callbacks around it, not the time it waited for a core.
    assert.ok(Math.abs(s.cpuMs! - spun) < 8, `ran ${s.cpuMs} ms of a ${spun} ms spin`);
  });

  it('a main thread asleep for 60 ms shows as a stall in which it neither ran nor waited for a core', async () => {
    const rec = recordStalls();
    await sleep(20);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60);
    await sleep(20);
    rec.stop();
    const s = longest(rec.stalls);
    const asleep = s.to - s.from - s.cpuMs! - s.waitMs!;
    assert.ok(s.to - s.from >= 55, `stall ${s.to - s.from} ms`);
    assert.ok(s.cpuMs! < 10, `ran ${s.cpuMs} ms`);
    assert.ok(asleep >= 50, `asleep ${asleep} ms`);
  });
});

describe('recordGc', () => {
  it('records the scavenges that allocation causes', async () => {
    const gc = recordGc();
    let keep: number[][] = [];
    for (let i = 0; i < 200_000; i++) {
      keep.push(new Array(16).fill(i));
      if (keep.length > 1000) keep = [];
    }
    // PerformanceObserver entries arrive asynchronously.
    await sleep(50);
    gc.stop();
    assert.ok(
      gc.pauses.some((p) => p.kind === 'scavenge' && p.to >= p.from),
      JSON.stringify(gc.pauses),
    );
  });
});
