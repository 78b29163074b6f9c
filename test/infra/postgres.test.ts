import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { startPostgres } from '../helpers/postgres.js';

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

test('a throwaway PostgreSQL cluster serves a new database, survives a restart, and is deleted on stop', async () => {
  const server = await startPostgres();
  try {
    assert.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const url = await server.createDatabase('infra_test');
    assert.ok(url.endsWith(`:${server.port}/infra_test`));

    await query(url, 'CREATE TABLE t (id int PRIMARY KEY, note text)');
    await query(url, 'INSERT INTO t VALUES ($1, $2)', [1, 'before restart']);
    const [version] = await query<{ server_version_num: string }>(url, 'SHOW server_version_num');
    assert.ok(Number(version!.server_version_num) >= 130000);

    // A client connected across the restart sees its connection cut, as in a real server crash.
    const held = new pg.Client({ connectionString: url });
    held.on('error', () => {});
    await held.connect();
    await server.restart();
    await assert.rejects(held.query('SELECT 1'));
    await held.end().catch(() => {});

    const rows = await query<{ note: string }>(url, 'SELECT note FROM t WHERE id = 1');
    assert.deepEqual(rows, [{ note: 'before restart' }]);
  } finally {
    await server.stop();
  }
  assert.equal(existsSync(server.dataDir), false);
  await assert.rejects(query(server.url, 'SELECT 1'));
});
