// A short load test: 200 simulated workers (each its own HTTP/2 connection)
// polling GetTask on loopback against one coordinator; no call may fail, and
// the p50/p99 latency is printed. AVSPL1T_LOAD_SECONDS sets the length (10).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { startCoordinator } from '../../src/coordinator/index.js';
import { connectCoordinator } from '../../src/rpc/index.js';
import { tmpDir } from '../helpers/tmp.js';

const WORKERS = 200;
const SECONDS = Number(process.env.AVSPL1T_LOAD_SECONDS) || 10;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

test(`${WORKERS} simulated workers polling GetTask for ${SECONDS} s get no errors`, async (t) => {
  const dir = await tmpDir('avspl1t-load-');
  const running = await startCoordinator({ listen: '127.0.0.1:0', db: path.join(dir.path, 'db.sqlite') });
  const handles = Array.from({ length: WORKERS }, () => connectCoordinator(running.address));
  const latencies: number[] = [];
  const errors: string[] = [];
  const end = Date.now() + SECONDS * 1000;
  try {
    await Promise.all(
      handles.map(async (h, i) => {
        while (Date.now() < end) {
          const started = performance.now();
          try {
            // A short long-poll, as an idle farm does: claim attempt, wait, answer empty.
            await h.client.getTask({ workerId: `load-${i}`, waitMs: 100 }, { timeoutMs: 30_000 });
            latencies.push(performance.now() - started);
          } catch (err) {
            errors.push(String(err));
          }
        }
      }),
    );
  } finally {
    for (const h of handles) h.close();
    await running.close();
    await dir.cleanup();
  }
  latencies.sort((a, b) => a - b);
  const report = {
    workers: WORKERS,
    seconds: SECONDS,
    calls: latencies.length,
    callsPerSecond: Math.round(latencies.length / SECONDS),
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    maxMs: Math.round(latencies.at(-1) ?? Number.NaN),
    errors: errors.length,
  };
  t.diagnostic(JSON.stringify(report));
  process.stdout.write(`load: ${JSON.stringify(report)}\n`);
  assert.deepEqual(errors.slice(0, 3), []);
  assert.ok(latencies.length >= WORKERS, 'every worker got answers');
});
