// Where the paced dispatch tail comes from: one paced run (bench/dispatch.ts's
// "paced" table) with the event-loop stalls of the simulated workers and of the
// coordinator recorded, and every slow call matched against them, beside the
// coordinator's own FinishTask and Heartbeat histograms. Usage:
// node dist/bench/paced-trace.js sqlite|postgres [workers] [task ms] [waves]
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { POLL_WAIT_MS } from '../src/worker/worker.js';
import { Fleet, type Latency, percentile, spawnCoordinator, submit } from './sim.js';
import { type GcPause, recordStalls, type Stall } from './stalls.js';

const [db = 'sqlite', workersArg = '500', taskArg = '10000', wavesArg = '4'] = process.argv.slice(2);
const workers = Number(workersArg);
const taskMs = Number(taskArg);
const waves = Number(wavesArg);
const SLOW_MS = 20;

const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-trace-'));
let stopPg: (() => Promise<void>) | undefined;
let location = path.join(dir, 'db.sqlite');
if (db === 'postgres') {
  const { startPostgres } = await import('../test/helpers/postgres.js');
  const pg = await startPostgres();
  stopPg = pg.stop;
  location = await pg.createDatabase('trace');
}
const traceFile = path.join(dir, 'coordinator-trace.json');
process.env.BENCH_STALLS = traceFile;
const coord = await spawnCoordinator(location);
// The process under test is the coordinator; the 500 simulated workers stand in for
// machines of their own. BENCH_SIM_NICE=<n> runs this load generator's main thread at a
// lower priority so that it does not take the coordinator's core (on Linux a nice value
// is per thread and inherited by children: set here, after the coordinator and the
// database started). Off by default: on a host loaded by others it starves the workers'
// process instead, whose own stalls then lengthen the client-side latencies.
const simNice = Number(process.env.BENCH_SIM_NICE ?? 0);
if (simNice > 0) os.setPriority(simNice);
const own = recordStalls(5, 5, true);
const tasks = workers * waves;
const fleet = new Fleet(coord.address, workers, 50, {
  pieces: tasks,
  waitMs: POLL_WAIT_MS,
  durationMs: (t) => (t.kind.case === 'encode' ? Math.round(taskMs * (0.5 + Math.random())) : 0),
});
fleet.start();
await new Promise((r) => setTimeout(r, 200));
const load0 = os.loadavg()[0]!;
await submit(fleet.client);
while (fleet.finished < tasks + 2) await new Promise((r) => setTimeout(r, 20));
const load1 = os.loadavg()[0]!;
own.stop();
await fleet.close();
await coord.stop();
await stopPg?.();
/** A prom-client histogram as `getMetricsAsJSON` gives it. */
interface HistogramJson {
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}
// A coordinator build without the trace (BENCH_SERVE=<another build>) leaves no file.
const server = (existsSync(traceFile) ? JSON.parse(readFileSync(traceFile, 'utf8')) : { stalls: [] }) as {
  stalls: Stall[];
  gc?: GcPause[];
  finish?: HistogramJson;
  heartbeat?: HistogramJson;
};
rmSync(dir, { recursive: true, force: true });
// BENCH_TRACE_OUT=<file> keeps the coordinator's trace (stalls, GC pauses, clock) for a closer look.
if (process.env.BENCH_TRACE_OUT) writeFileSync(process.env.BENCH_TRACE_OUT, JSON.stringify(server));

const epoch = (t: number) => performance.timeOrigin + t;
const wave = fleet.allBusyAt;
const overlaps = (stalls: Stall[], from: number, to: number) =>
  stalls.some((s) => s.from < to && s.to > from && s.to - s.from > 10);

function report(name: string, l: Latency): void {
  const calls = l.at.map((at, i) => ({ at, ms: l.ms[i]! })).filter((c) => c.at >= wave);
  const slow = calls.filter((c) => c.ms > SLOW_MS);
  let client = 0;
  let coordinator = 0;
  let both = 0;
  for (const c of slow) {
    const inClient = overlaps(own.stalls, epoch(c.at), epoch(c.at + c.ms));
    const inServer = overlaps(server.stalls, epoch(c.at), epoch(c.at + c.ms));
    if (inClient && inServer) both++;
    else if (inClient) client++;
    else if (inServer) coordinator++;
  }
  const ms = calls.map((c) => c.ms);
  console.log(
    `${name}: ${calls.length} calls, p50 ${percentile(ms, 50).toFixed(1)} p99 ${percentile(ms, 99).toFixed(1)} ms; ` +
      `${slow.length} over ${SLOW_MS} ms: during a > 10 ms stall of the workers' process only ${client}, ` +
      `of the coordinator only ${coordinator}, both ${both}, neither ${slow.length - client - coordinator - both}`,
  );
}

/** Calls started per 100 ms window (after the wave): p50 / p99 / max. */
function burstiness(): string {
  const starts = [fleet.latencies.finishTask, fleet.latencies.heartbeat, fleet.latencies.getTask]
    .flatMap((l) => l.at)
    .filter((at) => at >= wave);
  const counts = new Map<number, number>();
  for (const at of starts) counts.set(Math.floor(at / 100), (counts.get(Math.floor(at / 100)) ?? 0) + 1);
  const first = Math.floor(Math.min(...starts) / 100);
  const last = Math.floor(Math.max(...starts) / 100);
  const all = Array.from({ length: last - first + 1 }, (_, i) => counts.get(first + i) ?? 0);
  return `calls started per 100 ms: p50 ${percentile(all, 50)} p99 ${percentile(all, 99)} max ${Math.max(...all)}`;
}

const stallSummary = (s: Stall[]) => {
  const long = s.map((x) => x.to - x.from).filter((d) => d > 10);
  return `${long.length} stalls > 10 ms (max ${Math.max(0, ...long).toFixed(0)} ms, total ${long.reduce((a, b) => a + b, 0).toFixed(0)} ms)`;
};

console.log(
  `${db} ${workers} workers, ${taskMs} ms tasks; load ${load0.toFixed(1)} → ${load1.toFixed(1)}; workers' process at nice ${os.getPriority()}`,
);
report('FinishTask', fleet.latencies.finishTask);
report('Heartbeat', fleet.latencies.heartbeat);
console.log(burstiness());
console.log(`workers' process: ${stallSummary(own.stalls)}; coordinator: ${stallSummary(server.stalls)}`);
/** Calls at most each bucket's bound (seconds), of the whole run (the start-up wave too). */
function buckets(name: string, h: HistogramJson | undefined, label: string): void {
  const b = h?.values.filter((v) => v.metricName?.endsWith('_bucket') && v.labels[label] === 'true');
  if (b?.length)
    console.log(`server-side ${name}: ${b.map((v) => `≤${v.labels.le}s ${v.value}`).join(', ')}`);
}
buckets('FinishTask', server.finish, 'accepted');
buckets('Heartbeat', server.heartbeat, 'lease_valid');

/** CPU the workers' process's main thread used in a window, ms (from its own stalls and ticks). */
function simulatorMs(w: { from: number; to: number }): number {
  let ms = 0;
  for (const t of own.ticks) if (t.at > w.from && t.at <= w.to + 5) ms += t.cpuMs;
  return ms;
}

/** Overlap of [from, to) with a set of windows, ms. */
const overlapMs = (w: { from: number; to: number }[], from: number, to: number) =>
  w.reduce((sum, x) => sum + Math.max(0, Math.min(to, x.to) - Math.max(from, x.from)), 0);

/**
 * What each coordinator stall over 10 ms was, by what its main thread did for most
 * of it: waited for a core (the host), paused for GC, ran other code, or slept.
 */
function causes(stalls: Stall[], gc: GcPause[]): void {
  const classes = new Map<string, { n: number; ms: number }>();
  for (const s of stalls) {
    const d = s.to - s.from;
    if (d <= 10) continue;
    const gcMs = overlapMs(gc, s.from, s.to);
    const cls =
      s.waitMs === undefined
        ? 'unknown (no schedstat)'
        : s.waitMs >= d / 2
          ? 'waiting for a core'
          : gcMs >= d / 2
            ? 'GC'
            : s.cpuMs! >= d / 2
              ? 'running (not GC)'
              : 'off a core, not waiting';
    const c = classes.get(cls) ?? { n: 0, ms: 0 };
    c.n++;
    c.ms += d;
    classes.set(cls, c);
  }
  console.log(
    `coordinator stalls > 10 ms by cause: ${[...classes].map(([k, v]) => `${k} ${v.n} (${v.ms.toFixed(0)} ms)`).join(', ')}`,
  );
  const long = stalls.filter((s) => s.to - s.from > 10);
  const total = (f: (s: Stall) => number) => long.reduce((sum, s) => sum + f(s), 0).toFixed(0);
  console.log(
    `  in them the coordinator's main thread ran ${total((s) => s.cpuMs ?? 0)} ms and waited for a core ` +
      `${total((s) => s.waitMs ?? 0)} ms; its other threads ran ${total((s) => s.otherMs ?? 0)} ms, ` +
      `the workers' process's main thread ${total(simulatorMs)} ms`,
  );
  const kinds = new Map<string, { n: number; ms: number; max: number }>();
  for (const p of gc) {
    const k = kinds.get(p.kind) ?? { n: 0, ms: 0, max: 0 };
    k.n++;
    k.ms += p.to - p.from;
    k.max = Math.max(k.max, p.to - p.from);
    kinds.set(p.kind, k);
  }
  console.log(
    `coordinator GC: ${[...kinds].map(([k, v]) => `${k} ${v.n} (total ${v.ms.toFixed(0)} ms, max ${v.max.toFixed(1)} ms)`).join(', ')}`,
  );
  const worst = stalls
    .filter((s) => s.to - s.from > 10)
    .sort((a, b) => b.to - b.from - (a.to - a.from))
    .slice(0, 8);
  for (const s of worst)
    console.log(
      `  stall ${(s.to - s.from).toFixed(0)} ms at +${((s.from - epoch(wave)) / 1000).toFixed(2)} s: ` +
        `ran ${s.cpuMs?.toFixed(0)} ms, waited for a core ${s.waitMs?.toFixed(0)} ms, GC ${overlapMs(gc, s.from, s.to).toFixed(0)} ms, ` +
        `other threads ran ${s.otherMs?.toFixed(0)} ms; the workers' process ran ${simulatorMs(s).toFixed(0)} ms`,
    );
}
if (server.gc) causes(server.stalls, server.gc);
