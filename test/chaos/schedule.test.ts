// The chaos soak's fault schedule: a printed seed replays the same faults, one at a time per target.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countByKind, FaultKind, makeSchedule, type ScheduleOptions } from '../../bench/chaos/schedule.js';

const options: ScheduleOptions = {
  seed: 42,
  faultPhaseMs: 30 * 60_000,
  workers: 3,
  leaseMs: 8_000,
  meanGapMs: 3_000,
};

test('the same seed gives the same schedule, another seed another one', () => {
  assert.deepEqual(makeSchedule(options), makeSchedule({ ...options }));
  assert.notDeepEqual(makeSchedule(options), makeSchedule({ ...options, seed: 43 }));
});

test('a target has one fault at a time, and every fault lies inside the fault phase', () => {
  const faults = makeSchedule(options);
  const last = new Map<string, number>();
  for (const f of faults) {
    assert.ok(f.atMs >= 0 && f.atMs < options.faultPhaseMs);
    assert.ok((last.get(f.target) ?? -1) <= f.atMs, `${f.target} has two faults at ${f.atMs}`);
    last.set(f.target, f.atMs + f.durationMs);
  }
});

test('30 minutes draw every kind, 100+ worker kills and 100+ pauses past the lease', () => {
  const faults = makeSchedule(options);
  const counts = countByKind(faults);
  for (const kind of Object.values(FaultKind)) assert.ok(counts[kind] > 0, `no ${kind}`);
  const pastLease = faults.filter((f) => f.kind === FaultKind.WorkerPause && f.durationMs > options.leaseMs);
  assert.ok(counts[FaultKind.WorkerKill] >= 100, `${counts[FaultKind.WorkerKill]} worker kills`);
  assert.ok(pastLease.length >= 100, `${pastLease.length} pauses past the lease`);
  for (const f of faults.filter((x) => x.kind.endsWith('link-cut')))
    assert.ok(f.durationMs >= 5_000 && f.durationMs <= 60_000, `link cut of ${f.durationMs} ms`);
});
