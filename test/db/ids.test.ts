// Time-ordered ids (UUIDv7) for tasks and leases: valid UUIDs, in order, unique.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderedId } from '../../src/db/ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('ids are UUIDv7 carrying the millisecond they were made in', () => {
  const before = Date.now();
  const id = orderedId();
  const after = Date.now();
  assert.match(id, V7);
  const ms = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
  assert.ok(ms >= before && ms <= after + 1, `timestamp ${ms} within [${before}, ${after}]`);
});

test('ids made one after another sort in the order they were made, also many in one millisecond', () => {
  // 20,000 ids: far more than fit the counter of one millisecond, so it must carry over.
  const ids = Array.from({ length: 20_000 }, () => orderedId());
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.every((id) => V7.test(id)));
  // Many made at a fixed (even earlier) clock reading stay in order too.
  const fixed = Array.from({ length: 5_000 }, () => orderedId(1_000));
  for (let i = 1; i < fixed.length; i++) assert.ok(fixed[i - 1]! < fixed[i]!);
  assert.ok(fixed[0]! > ids.at(-1)!, 'never behind an id made before');
});

test('the random part differs between ids', () => {
  const tails = new Set(Array.from({ length: 1000 }, () => orderedId().slice(19)));
  assert.equal(tails.size, 1000);
});
