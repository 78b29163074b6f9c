// Connections cannot pile up: sockets that send nothing are closed after the
// sniff timeout, idle HTTP/1.1 and HTTP/2 connections after the idle timeout
// (a long poll in flight is not idle), and connections over the cap are
// refused until others close.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import { startTestCoordinator } from '../coordinator/harness.js';
import { assertAnswers, closedWithin, rawSocket, sleep } from './raw-peers.js';

test('sockets that send nothing are closed after the sniff timeout', async () => {
  const t = await startTestCoordinator({ connections: { sniffTimeoutMs: 300 } });
  try {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => rawSocket(t.address)));
    const closed = await Promise.all(sockets.map((s) => closedWithin(s, 5000)));
    assert.deepEqual(
      closed.filter((c) => !c),
      [],
      'every silent socket closed by the coordinator',
    );
    await assertAnswers(t.address);
  } finally {
    await t.close();
  }
});

test('an HTTP/1.1 or HTTP/2 connection left idle is closed, one with a long poll in flight is not', async () => {
  const t = await startTestCoordinator({ connections: { idleTimeoutMs: 500 }, maxWaitMs: 3000 });
  try {
    const h1 = await rawSocket(t.address);
    // An incomplete request, then silence.
    h1.write('POST /avspl1t.v1.CoordinatorService/ListJobs HTTP/1.1\r\nHost: x\r\n');
    const h2 = await rawSocket(t.address);
    h2.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    assert.ok(await closedWithin(h1, 5000), 'idle HTTP/1.1 connection closed');
    assert.ok(await closedWithin(h2, 5000), 'idle HTTP/2 connection closed');
    // A long poll silent for longer than the idle timeout still gets its (empty) answer.
    const started = Date.now();
    const res = await t.client.getTask({ workerId: 'w', waitMs: 2000 });
    assert.equal(res.task, undefined);
    assert.ok(Date.now() - started >= 1500, 'the poll waited');
  } finally {
    await t.close();
  }
});

test('connections over the cap are refused, and calls work again once others close', async () => {
  const t = await startTestCoordinator({ connections: { maxConnections: 10, sniffTimeoutMs: 60_000 } });
  try {
    const held: net.Socket[] = await Promise.all(Array.from({ length: 10 }, () => rawSocket(t.address)));
    await sleep(100);
    const extra = await rawSocket(t.address);
    assert.ok(await closedWithin(extra, 3000), 'a connection over the cap is closed at once');
    assert.equal(held.filter((s) => s.closed).length, 0, 'the held connections stay open');
    for (const s of held) s.destroy();
    await sleep(200);
    await assertAnswers(t.address);
  } finally {
    await t.close();
  }
});
