// Long timeouts: setLongTimeout waits out delays above setTimeout's 2^31-1 ms in chunks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_TIMER_MS, setLongTimeout } from '../../src/timers.js';

test('a delay above 2^31-1 ms neither fires early nor warns', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  let fired = false;
  const timer = setLongTimeout(() => (fired = true), MAX_TIMER_MS + 60_000);
  await sleep(100);
  timer.clear();
  process.off('warning', onWarning);
  assert.equal(fired, false);
  assert.deepEqual(warnings, []);
});

test('a delay longer than one chunk fires once, after the whole delay', async () => {
  const started = Date.now();
  let firedAt = 0;
  let calls = 0;
  setLongTimeout(
    () => {
      calls++;
      firedAt = Date.now();
    },
    150,
    { chunkMs: 20 },
  );
  await sleep(60);
  assert.equal(calls, 0, 'not after the first chunks');
  await sleep(400);
  assert.equal(calls, 1);
  assert.ok(firedAt - started >= 150, `fired after ${firedAt - started} ms`);
});

test('clear stops a chunked timer between chunks', async () => {
  let fired = false;
  const timer = setLongTimeout(() => (fired = true), 100, { chunkMs: 20 });
  await sleep(50);
  timer.clear();
  await sleep(150);
  assert.equal(fired, false);
});

test('zero, negative and NaN delays fire on a later turn, not synchronously', async () => {
  for (const ms of [0, -5, Number.NaN]) {
    let fired = false;
    setLongTimeout(() => (fired = true), ms);
    assert.equal(fired, false);
    await sleep(5);
    assert.equal(fired, true, `delay ${ms}`);
  }
});
