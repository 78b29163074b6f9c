// Health endpoints as Kubernetes probes them, on real processes: the
// coordinator's /healthz and /readyz (database reachable, migrations current) on
// the API port or on --http-listen, and a worker's /healthz with its coordinator
// connection state on --metrics-listen.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startCoordinator as startInProcess } from '../../src/coordinator/index.js';
import { startCoordinator } from '../cli/operator.js';
import { startProgram, stopAll } from '../cli/processes.js';
import { run } from '../helpers/exec.js';
import { startPostgres } from '../helpers/postgres.js';
import { freePort, type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-health-');
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Polls `url` until its status is `status`; resolves to the last answer. */
async function until(url: string, status: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await get(url).catch((err: unknown) => ({ status: 0, body: String(err) }));
    if (got.status === status || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('health endpoints', () => {
  it('the coordinator answers /healthz and /readyz on its API port; /readyz is 503 once a migration is missing', async () => {
    const db = path.join(dir.path, 'api-port.sqlite');
    const { address } = await startCoordinator(db);
    assert.deepEqual(await get(`http://${address}/healthz`), { status: 200, body: 'ok\n' });
    assert.deepEqual(await get(`http://${address}/readyz`), { status: 200, body: 'ready\n' });
    // A schema older than this coordinator's: the newest migration's record removed.
    const conn = new Database(db);
    conn.prepare(`delete from kysely_migration where name = '0005_worker_profiles'`).run();
    conn.close();
    const stale = await get(`http://${address}/readyz`);
    assert.equal(stale.status, 503);
    assert.match(stale.body, /migrations not applied: 0005_worker_profiles/);
    assert.equal((await get(`http://${address}/healthz`)).status, 200, 'alive all the same');
  });

  it('with --http-listen the probes move to that port and the API port no longer serves them', async () => {
    const coordinator = startProgram([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--http-listen',
      '127.0.0.1:0',
      '--db',
      path.join(dir.path, 'http-listen.sqlite'),
    ]);
    const address = await coordinator.firstLine();
    const deadline = Date.now() + 10_000;
    while (!/\nhttp /.test(coordinator.output().stdout) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const http = /\nhttp (\S+)\n/.exec(coordinator.output().stdout)?.[1];
    assert.ok(http, coordinator.output().stdout);
    assert.equal((await get(`http://${http}/readyz`)).status, 200);
    assert.equal((await get(`http://${http}/healthz`)).status, 200);
    assert.equal((await get(`http://${address}/healthz`)).status, 404);
  });

  it('/readyz is 503 while PostgreSQL is down, /healthz stays 200', async () => {
    const pg = await startPostgres();
    try {
      const url = await pg.createDatabase('health');
      const coordinator = startProgram(['coordinator', '--listen', '127.0.0.1:0', '--db', url]);
      const address = await coordinator.firstLine();
      assert.equal((await get(`http://${address}/readyz`)).status, 200);
      await pg.stop();
      const down = await until(`http://${address}/readyz`, 503);
      assert.equal(down.status, 503, down.body);
      assert.match(down.body, /^not ready: /);
      assert.equal((await get(`http://${address}/healthz`)).status, 200);
    } finally {
      await pg.stop();
    }
  });

  it("a worker's /healthz is 503 while its coordinator is unreachable and 200 once it answers", async () => {
    const port = await freePort();
    const worker = startProgram([
      'worker',
      '--coordinator',
      `127.0.0.1:${port}`,
      '--metrics-listen',
      '127.0.0.1:0',
      '--tmp-dir',
      path.join(dir.path, 'tmp-worker'),
      '--log-level',
      'error',
    ]);
    const line = await worker.firstLine();
    const metrics = /^metrics (\S+)$/.exec(line)?.[1];
    assert.ok(metrics, line);
    const unreachable = await until(`http://${metrics}/healthz`, 503);
    assert.equal(unreachable.status, 503);
    // The first poll may still be under way (connecting) or have failed (unreachable).
    assert.match(unreachable.body, /"coordinator":"(connecting|unreachable)"/);
    await until(`http://${metrics}/healthz`, 503);
    await startCoordinator(path.join(dir.path, 'late.sqlite'), ['--listen', `127.0.0.1:${port}`]);
    const connected = await until(`http://${metrics}/healthz`, 200);
    assert.equal(connected.status, 200, connected.body);
    assert.match(connected.body, /"coordinator":"connected"/);
    const text = await (await fetch(`http://${metrics}/metrics`)).text();
    assert.match(text, /^avspl1t_worker_coordinator_connected 1$/m);
  });

  it('with TLS on the port, /healthz, /readyz and /metrics answer plain HTTPS GETs (HTTP/1.1 by ALPN)', async () => {
    const cert = path.join(dir.path, 'cert.pem');
    const key = path.join(dir.path, 'key.pem');
    // biome-ignore format: openssl's arguments read best in pairs
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const pem = await readFile(cert);
    const running = await startInProcess({
      listen: '127.0.0.1:0',
      db: path.join(dir.path, 'tls.sqlite'),
      tls: { cert: pem, key: await readFile(key) },
    });
    const get = (p: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.get(`https://${running.address}${p}`, { ca: pem, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
    try {
      assert.equal((await get('/healthz')).status, 200);
      assert.equal((await get('/readyz')).body, 'ready\n');
      const metrics = await get('/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^# TYPE avspl1t_jobs gauge$/m);
    } finally {
      await running.close();
    }
  });
});
