// Outage bookkeeping: one log line when the database goes away, one when it is
// back, however many calls fail in between.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Availability } from '../../src/db/availability.js';

test('an outage is logged once when it starts and once when it ends, with its length and failures', () => {
  const lines: { event?: string; downMs?: number; failures?: number; db?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const a = new Availability(log, 'postgres://u:***@db/x');
  a.succeeded(1000);
  assert.equal(a.down, false);
  for (let i = 0; i < 5; i++) a.failed(new Error('Connection terminated unexpectedly'), 2000 + i);
  assert.equal(a.down, true);
  assert.equal(a.downForMs(2500), 500);
  a.succeeded(4000);
  a.succeeded(4001);
  assert.equal(a.down, false);
  assert.deepEqual(
    lines.map((l) => [l.event, l.downMs, l.failures, l.db]),
    [
      ['database_unavailable', undefined, undefined, 'postgres://u:***@db/x'],
      ['database_available', 2000, 5, 'postgres://u:***@db/x'],
    ],
  );
});
