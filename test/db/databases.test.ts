// The database switch of the contract suites: a value it does not know is an
// error, never "no database" (which would leave the suites with no tests).
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { databaseFactories } from './databases.js';

const saved = process.env.AVSPL1T_TEST_DB;
afterEach(() => {
  if (saved === undefined) delete process.env.AVSPL1T_TEST_DB;
  else process.env.AVSPL1T_TEST_DB = saved;
});

test('an unknown AVSPL1T_TEST_DB value is refused with an error naming it', () => {
  for (const bad of ['postgresql', 'sqlite3', '', 'none']) {
    process.env.AVSPL1T_TEST_DB = bad;
    assert.throws(() => databaseFactories(), new RegExp(`sqlite, postgres or all, not "${bad}"`));
  }
});

test('the known values select their databases', () => {
  const names = (v: string) => {
    process.env.AVSPL1T_TEST_DB = v;
    return databaseFactories().map((f) => f.name);
  };
  assert.deepEqual(names('sqlite'), ['sqlite']);
  assert.deepEqual(names('POSTGRES'), ['postgres']);
  assert.deepEqual(names('all'), ['sqlite', 'postgres']);
});
