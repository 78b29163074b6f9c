// Dispatch benchmark: how fast one coordinator hands out and records tasks.
// Simulated workers (bench/sim.ts) call GetTask/FinishTask over loopback gRPC
// against a coordinator in its own process and finish every task at once.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './lib.js';
import { Fleet, percentile, spawnCoordinator, submit } from './sim.js';

export interface DispatchRow {
  db: string;
  workers: number;
  /** Tasks (claim + finish) per second, median of the repeats. */
  perSecond: number;
  runs: number[];
  /** Coordinator CPU (user + system, all threads) per claim + finish, ms: median of the repeats. */
  cpuMsPerTask: number;
  getTaskP50: number;
  getTaskP99: number;
  finishP50: number;
  finishP99: number;
}

export interface PacedRow {
  db: string;
  workers: number;
  /** Simulated task length: each worker holds a task this long. */
  taskMs: number;
  perSecond: number;
  /** Coordinator CPU per task (claim, heartbeats, finish), ms. */
  cpuMsPerTask: number;
  getTaskP50: number;
  getTaskP99: number;
  finishP50: number;
  finishP99: number;
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

/** Runs `jobs` jobs of `pieces` encodes through `workers` instant workers. */
async function saturated(
  location: string,
  workers: number,
  jobs: number,
  pieces: number,
  taskMs = 0,
): Promise<{ perSecond: number; cpuMsPerTask: number; fleet: Fleet }> {
  const coord = await spawnCoordinator(location);
  const fleet = new Fleet(coord.address, workers, CONNECTIONS, {
    pieces,
    waitMs: 1000,
    durationMs: taskMs > 0 ? (t) => (t.kind.case === 'encode' ? taskMs : 0) : undefined,
  });
  try {
    fleet.start();
    await sleep(200);
    const t0 = performance.now();
    const cpu0 = coord.cpuMs();
    for (let j = 0; j < jobs; j++) await submit(fleet.client);
    const total = jobs * (pieces + 2);
    await until(() => fleet.finished >= total, 600_000);
    const perSecond = total / ((performance.now() - t0) / 1000);
    return { perSecond, cpuMsPerTask: (coord.cpuMs() - cpu0) / total, fleet };
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
  getTaskP50: percentile(fleet.latencies.getTask, 50),
  getTaskP99: percentile(fleet.latencies.getTask, 99),
  finishP50: percentile(fleet.latencies.finishTask, 50),
  finishP99: percentile(fleet.latencies.finishTask, 99),
});

export interface DispatchOptions {
  /** Name and database factory of each store to test. */
  dbs: [string, DbFactory][];
  workerCounts: number[];
  repeats: number;
  /** Encode tasks per job in the saturated runs. */
  pieces: number;
  /** How long each simulated encode lasts in the paced run. */
  pacedTaskMs: number;
  log: (line: string) => void;
}

/** Runs the whole dispatch benchmark. */
export async function runDispatch(o: DispatchOptions): Promise<DispatchResults> {
  const res: DispatchResults = { saturated: [], paced: [], idleToBusy: [], notes: [] };
  for (const [db, fresh] of o.dbs) {
    for (const workers of o.workerCounts) {
      const runs: number[] = [];
      const cpu: number[] = [];
      let last: Fleet | undefined;
      for (let r = 0; r < o.repeats; r++) {
        const { perSecond, cpuMsPerTask, fleet } = await saturated(await fresh(), workers, 2, o.pieces);
        runs.push(perSecond);
        cpu.push(cpuMsPerTask);
        last = fleet;
        o.log(
          `dispatch ${db} ${workers} workers: ${perSecond.toFixed(0)} tasks/s, coordinator CPU ${cpuMsPerTask.toFixed(2)} ms/task`,
        );
      }
      res.saturated.push({
        db,
        workers,
        perSecond: median(runs),
        runs,
        cpuMsPerTask: median(cpu),
        ...lat(last!),
      });
    }
    // Latency under a load that leaves headroom: every worker holds each encode for taskMs.
    const workers = Math.max(...o.workerCounts);
    const taskMs = o.pacedTaskMs;
    const { perSecond, cpuMsPerTask, fleet } = await saturated(
      await fresh(),
      workers,
      1,
      workers * 2,
      taskMs,
    );
    res.paced.push({ db, workers, taskMs, perSecond, cpuMsPerTask, ...lat(fleet) });
    o.log(`dispatch ${db} ${workers} workers, ${taskMs} ms tasks: ${perSecond.toFixed(0)} tasks/s`);
    for (const n of [1, 50]) {
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
