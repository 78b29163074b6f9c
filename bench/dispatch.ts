// Dispatch benchmark: how fast one coordinator hands out and records tasks.
// Simulated workers (bench/sim.ts) call GetTask/FinishTask over loopback gRPC
// against a coordinator in its own process and finish every task at once.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { POLL_WAIT_MS } from '../src/worker/worker.js';
import { median } from './lib.js';
import { coordinatorNodeArgs, Fleet, percentile, postgresCpuMs, spawnCoordinator, submit } from './sim.js';

export interface DispatchRow {
  db: string;
  workers: number;
  /** Tasks (claim + finish) per second, median of the repeats. */
  perSecond: number;
  runs: number[];
  /** Coordinator CPU (user + system, all threads) per claim + finish, ms: median of the repeats. */
  cpuMsPerTask: number;
  /** The simulated workers' CPU (the benchmark process) per task, ms: median of the repeats. */
  workersCpuMsPerTask?: number;
  /** PostgreSQL's CPU (server and backends) per task, ms (PostgreSQL only): median of the repeats. */
  serverCpuMsPerTask?: number;
  getTaskP50: number;
  getTaskP99: number;
  finishP50: number;
  finishP99: number;
}

/** p50 / p99 (ms) and how many calls. */
export interface Spread {
  p50: number;
  p99: number;
  calls: number;
}

export interface PacedRow {
  db: string;
  workers: number;
  /** Mean simulated encode length: each worker holds an encode uniformly 0.5-1.5 times this long. */
  taskMs: number;
  tasks: number;
  perSecond: number;
  /** Coordinator CPU per task (claim, heartbeats, finish), ms. */
  cpuMsPerTask: number;
  /** The start-up wave: from the split's FinishTask to each worker holding its first encode (all woken at once). */
  startup: Spread;
  /** After the wave: FinishTask (with the next claim), GetTask (when a finish brought none), Heartbeat. */
  getTask: Spread;
  finishTask: Spread;
  heartbeat: Spread;
  /** The first Heartbeat of each task (counted in `heartbeat` too). */
  firstHeartbeat?: Spread;
}

export interface IdleRow {
  db: string;
  workers: number;
  /** Submit (client side, before the call) to a worker holding the split task, ms. */
  p50: number;
  max: number;
  samples: number[];
}

export interface DispatchResults {
  saturated: DispatchRow[];
  paced: PacedRow[];
  idleToBusy: IdleRow[];
  notes: string[];
  /** The coordinator's node flags (absent in results from before they were recorded: Node's defaults). */
  coordinatorNodeArgs?: string;
}

/** A fresh database location per run: a SQLite file, or a new PostgreSQL database. */
export type DbFactory = () => Promise<string>;

const CONNECTIONS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('benchmark timed out');
    await sleep(2);
  }
}

/**
 * Runs `jobs` jobs of `pieces` encodes through `workers` workers (instant, or holding
 * encodes for `encodeMs()`), whose GetTask long polls wait `waitMs`.
 */
async function saturated(
  location: string,
  workers: number,
  jobs: number,
  pieces: number,
  encodeMs?: () => number,
  waitMs = 1000,
): Promise<{
  perSecond: number;
  cpuMsPerTask: number;
  workersCpuMsPerTask: number;
  serverCpuMsPerTask?: number;
  fleet: Fleet;
}> {
  const coord = await spawnCoordinator(location);
  const serverCpu = location.startsWith('postgres') ? postgresCpuMs : undefined;
  const fleet = new Fleet(coord.address, workers, CONNECTIONS, {
    pieces,
    waitMs,
    durationMs: encodeMs && ((t) => (t.kind.case === 'encode' ? encodeMs() : 0)),
  });
  try {
    fleet.start();
    await sleep(200);
    const t0 = performance.now();
    const cpu0 = coord.cpuMs();
    const own0 = process.cpuUsage();
    const server0 = serverCpu?.();
    for (let j = 0; j < jobs; j++) await submit(fleet.client);
    const total = jobs * (pieces + 2);
    await until(() => fleet.finished >= total, 600_000);
    const perSecond = total / ((performance.now() - t0) / 1000);
    const own = process.cpuUsage(own0);
    return {
      perSecond,
      cpuMsPerTask: (coord.cpuMs() - cpu0) / total,
      workersCpuMsPerTask: (own.user + own.system) / 1000 / total,
      serverCpuMsPerTask: server0 === undefined ? undefined : (serverCpu!() - server0) / total,
      fleet,
    };
  } finally {
    await fleet.close();
    await coord.stop();
  }
}

/** Submit-to-claim latency with `workers` idle workers in a long poll. */
async function idleToBusy(location: string, workers: number, samples: number): Promise<number[]> {
  const coord = await spawnCoordinator(location);
  const fleet = new Fleet(coord.address, workers, CONNECTIONS, { pieces: 1, waitMs: 10_000 });
  const out: number[] = [];
  try {
    fleet.start();
    for (let i = 0; i < samples; i++) {
      await sleep(300);
      let got = 0;
      fleet.onTask = (task, at) => {
        if (task.kind.case === 'split' && !got) got = at;
      };
      const before = fleet.finished;
      const t0 = performance.now();
      await submit(fleet.client);
      await until(() => fleet.finished >= before + 3, 30_000);
      out.push(got - t0);
    }
    return out;
  } finally {
    await fleet.close();
    await coord.stop();
  }
}

const lat = (fleet: Fleet) => ({
  getTaskP50: percentile(fleet.latencies.getTask.ms, 50),
  getTaskP99: percentile(fleet.latencies.getTask.ms, 99),
  finishP50: percentile(fleet.latencies.finishTask.ms, 50),
  finishP99: percentile(fleet.latencies.finishTask.ms, 99),
});

const spread = (ms: number[]): Spread => ({
  p50: percentile(ms, 50),
  p99: percentile(ms, 99),
  calls: ms.length,
});

/** A small seeded generator (mulberry32): the same durations every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Latency at a load the coordinator can serve: `workers` workers each hold every
 * encode 0.5-1.5 × `taskMs` (real encodes differ by content), `waves` encodes per
 * worker. The start-up wave (all workers claim when the split finishes) is
 * reported apart from the steady state after it.
 */
async function paced(
  location: string,
  db: string,
  workers: number,
  taskMs: number,
  waves: number,
): Promise<PacedRow> {
  const random = seeded(workers * 7919 + taskMs);
  const tasks = workers * waves;
  // Idle workers (at the job's end) long-poll as real ones do, not every second.
  const { perSecond, cpuMsPerTask, fleet } = await saturated(
    location,
    workers,
    1,
    tasks,
    () => Math.round(taskMs * (0.5 + random())),
    POLL_WAIT_MS,
  );
  const l = fleet.latencies;
  const wave = fleet.allBusyAt;
  return {
    db,
    workers,
    taskMs,
    tasks,
    perSecond,
    cpuMsPerTask,
    startup: spread(fleet.firstWorkAt.map((at) => at - fleet.splitFinishAt)),
    getTask: spread(l.getTask.since(wave)),
    finishTask: spread(l.finishTask.since(wave)),
    heartbeat: spread(l.heartbeat.since(wave)),
    firstHeartbeat: spread(l.firstHeartbeat.since(wave)),
  };
}

export interface DispatchOptions {
  /** Name and database factory of each store to test. */
  dbs: [string, DbFactory][];
  workerCounts: number[];
  repeats: number;
  /** Encode tasks per job in the saturated runs. */
  pieces: number;
  /** Mean length of a simulated encode in the paced runs (one run each). */
  pacedTaskMs: number[];
  /** Parts to run; the others are left out of the result. */
  parts: Set<'saturated' | 'paced' | 'idle'>;
  log: (line: string) => void;
}

/** Runs the whole dispatch benchmark. */
export async function runDispatch(o: DispatchOptions): Promise<DispatchResults> {
  const res: DispatchResults = {
    saturated: [],
    paced: [],
    idleToBusy: [],
    notes: [],
    coordinatorNodeArgs: coordinatorNodeArgs(),
  };
  for (const [db, fresh] of o.dbs) {
    for (const workers of o.parts.has('saturated') ? o.workerCounts : []) {
      const runs: number[] = [];
      const cpu: number[] = [];
      const workersCpu: number[] = [];
      const serverCpu: number[] = [];
      let last: Fleet | undefined;
      for (let r = 0; r < o.repeats; r++) {
        const run = await saturated(await fresh(), workers, 2, o.pieces);
        runs.push(run.perSecond);
        cpu.push(run.cpuMsPerTask);
        workersCpu.push(run.workersCpuMsPerTask);
        if (run.serverCpuMsPerTask !== undefined) serverCpu.push(run.serverCpuMsPerTask);
        last = run.fleet;
        o.log(
          `dispatch ${db} ${workers} workers: ${run.perSecond.toFixed(0)} tasks/s, CPU ms/task coordinator ` +
            `${run.cpuMsPerTask.toFixed(3)}, workers ${run.workersCpuMsPerTask.toFixed(3)}` +
            (run.serverCpuMsPerTask === undefined ? '' : `, PostgreSQL ${run.serverCpuMsPerTask.toFixed(3)}`),
        );
      }
      res.saturated.push({
        db,
        workers,
        perSecond: median(runs),
        runs,
        cpuMsPerTask: median(cpu),
        workersCpuMsPerTask: median(workersCpu),
        serverCpuMsPerTask: serverCpu.length ? median(serverCpu) : undefined,
        ...lat(last!),
      });
    }
    const workers = Math.max(...o.workerCounts);
    for (const taskMs of o.parts.has('paced') ? o.pacedTaskMs : []) {
      const row = await paced(await fresh(), db, workers, taskMs, 4);
      res.paced.push(row);
      o.log(
        `dispatch ${db} ${workers} workers, ${taskMs} ms tasks: ${row.perSecond.toFixed(0)} tasks/s, ` +
          `start-up wave p99 ${row.startup.p99.toFixed(1)} ms, then FinishTask p99 ${row.finishTask.p99.toFixed(1)} ms, ` +
          `Heartbeat p99 ${row.heartbeat.p99.toFixed(1)} ms (a task's first beat ${row.firstHeartbeat?.p99.toFixed(1)} ms)`,
      );
    }
    for (const n of o.parts.has('idle') ? [1, 50] : []) {
      const samples = await idleToBusy(await fresh(), n, 7);
      res.idleToBusy.push({ db, workers: n, p50: median(samples), max: Math.max(...samples), samples });
      o.log(`idle-to-busy ${db} ${n} workers: median ${median(samples).toFixed(1)} ms`);
    }
  }
  return res;
}

/** Fresh SQLite files in a temporary directory (removed by the returned cleanup). */
export function sqliteFactory(): { factory: DbFactory; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-dispatch-'));
  let n = 0;
  return {
    factory: async () => path.join(dir, `db-${n++}.sqlite`),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
