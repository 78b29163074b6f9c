// The PostgreSQL store's writes joined into one statement: each write's `$n`
// placeholders are numbered on after the writes before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneStatementText } from '../../../src/db/postgres/statement.js';

test('joined writes number their placeholders on, so the values are the writes’ values in order', () => {
  const text = oneStatementText([
    'update a set x = $2 where id = $1',
    'update b set y = $1, z = coalesce($3, z) where k = $2 and w = $1',
  ]);
  assert.equal(
    text,
    'with w0 as (update a set x = $2 where id = $1), ' +
      'w1 as (update b set y = $3, z = coalesce($5, z) where k = $4 and w = $3) select 1',
  );
});
