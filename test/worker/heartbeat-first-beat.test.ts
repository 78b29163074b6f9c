// Workers handed their tasks in one wave (every idle worker claims when a split
// finishes) must not send their first heartbeats in one burst: the coordinator
// would queue them, and the burst set the paced benchmark's Heartbeat p99.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import type { CoordinatorClient } from '../../src/rpc/index.js';
import { beatDelay, firstBeatDelay, type Heartbeat, startHeartbeat } from '../../src/worker/heartbeat.js';
import { startTestCoordinator } from '../coordinator/harness.js';

test('the first beat comes 0.25-1 × the interval after the claim; later beats 0.75-1 ×', () => {
  assert.equal(
    firstBeatDelay(1000, () => 0),
    250,
  );
  assert.equal(
    firstBeatDelay(1000, () => 1),
    1000,
  );
  assert.equal(
    beatDelay(1000, () => 0),
    750,
  );
  const delays = Array.from({ length: 1000 }, () => firstBeatDelay(1000));
  assert.ok(Math.min(...delays) >= 250 && Math.max(...delays) <= 1000);
  assert.ok(delays.filter((d) => d < 750).length > 500, 'most first beats fall before the later beats can');
});

test('workers that start together spread their first heartbeats over most of an interval', async () => {
  const t = await startTestCoordinator();
  const intervalMs = 2000;
  const beats: Heartbeat[] = [];
  // When each beat is sent (the real client then carries it): what the schedule decides,
  // apart from how long the coordinator takes to answer on a loaded machine.
  const sent: number[] = [];
  let answered = 0;
  const client: CoordinatorClient = {
    ...t.client,
    heartbeat: (req, options) => {
      sent.push(performance.now() - started);
      return t.client.heartbeat(req, options);
    },
  };
  const started = performance.now();
  try {
    // Tasks the coordinator does not know: each first beat is answered "not found",
    // which stops that heartbeat, so every worker here beats exactly once.
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 40; i++)
        beats.push(
          startHeartbeat({
            client,
            workerId: `w${i}`,
            taskId: `no-such-task-${i}`,
            lease: 'lease',
            intervalMs,
            log: silentLogger,
            onStop: () => {
              if (++answered === 40) resolve();
            },
          }),
        );
    });
  } finally {
    for (const b of beats) b.stop();
    await t.close();
  }
  assert.equal(sent.length, 40, 'one beat each');
  // Beats at 0.75-1 × the interval (as before) would all be sent after 1,500 ms.
  const early = sent.filter((ms) => ms < 0.75 * intervalMs).length;
  assert.ok(early >= 10, `first beats sent before 1,500 ms: ${early} of 40 (${sent.map(Math.round)})`);
});
