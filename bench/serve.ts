// A coordinator in its own process for the dispatch and scale-out benchmarks, so
// the simulated workers do not share its event loop. Prints its address as one
// JSON line on stdout and serves until stdin closes.
import { writeFileSync } from 'node:fs';
import { startCoordinator } from '../src/coordinator/index.js';
import { recordGc, recordStalls } from './stalls.js';

const db = process.argv[2];
if (!db) throw new Error('usage: serve.js <sqlite path | postgres url> [poll interval ms]');
const running = await startCoordinator({
  listen: '127.0.0.1:0',
  db,
  pollIntervalMs: Number(process.argv[3] ?? 500),
});
process.stdout.write(`${JSON.stringify({ address: running.address, pid: process.pid })}\n`);
// BENCH_STALLS=<file>: the event-loop stalls and the server-side finish times go there at the end.
const trace = process.env.BENCH_STALLS;
const stalls = trace ? recordStalls() : undefined;
const gc = trace ? recordGc() : undefined;
process.stdin.resume();
process.stdin.on('end', async () => {
  if (trace && stalls) {
    const metrics = (await running.metrics?.registry.getMetricsAsJSON()) ?? [];
    const named = (name: string) => metrics.find((m) => m.name === name);
    writeFileSync(
      trace,
      JSON.stringify({
        stalls: stalls.stalls,
        gc: gc?.pauses,
        // Maps a --cpu-prof's timestamps (monotonic µs) to the epoch ms of the stalls.
        clock: {
          epochMs: performance.timeOrigin + performance.now(),
          monotonicMs: Number(process.hrtime.bigint()) / 1e6,
        },
        finish: named('avspl1t_finish_duration_seconds'),
        heartbeat: named('avspl1t_heartbeat_duration_seconds'),
      }),
    );
  }
  void running.close().then(() => process.exit(0));
});
