// Optional authentication and TLS on the coordinator's port: calls without a
// valid bearer token get UNAUTHENTICATED, worker RPCs need the worker token,
// and a client trusting a self-signed certificate talks gRPC over TLS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Code, ConnectError } from '@connectrpc/connect';
import { type RunningCoordinator, startCoordinator } from '../../src/coordinator/index.js';
import { type ClientOptions, connectCoordinator } from '../../src/rpc/index.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const WORKER = 'worker-secret-1';
const CLIENT = 'client-secret-2';

let dir: TmpDir;
let running: RunningCoordinator;
before(async () => {
  dir = await tmpDir('avspl1t-auth-');
  running = await startCoordinator({
    listen: '127.0.0.1:0',
    db: path.join(dir.path, 'db.sqlite'),
    auth: { workerToken: WORKER, clientTokens: [CLIENT] },
  });
});
after(async () => {
  await running?.close();
  await dir?.cleanup();
});

async function call<T>(
  options: ClientOptions,
  fn: (c: ReturnType<typeof connectCoordinator>['client']) => Promise<T>,
) {
  const h = connectCoordinator(running.address, options);
  try {
    return await fn(h.client);
  } finally {
    h.close();
  }
}

async function refused(p: Promise<unknown>, code = Code.Unauthenticated): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

test('a client call without a token is refused with UNAUTHENTICATED', async () => {
  await refused(call({}, (c) => c.listJobs({ limit: 1 })));
});

test('a client call with a wrong token is refused with UNAUTHENTICATED', async () => {
  await refused(call({ token: 'nope' }, (c) => c.listJobs({ limit: 1 })));
});

test('a client token lists jobs; the worker token is accepted for client calls too', async () => {
  assert.deepEqual((await call({ token: CLIENT }, (c) => c.listJobs({ limit: 1 }))).jobs, []);
  assert.deepEqual((await call({ token: WORKER }, (c) => c.listJobs({ limit: 1 }))).jobs, []);
});

test('worker RPCs need the worker token: none, wrong and client tokens are refused', async () => {
  await refused(call({}, (c) => c.getTask({ workerId: 'w', waitMs: 0 })));
  await refused(call({ token: 'nope' }, (c) => c.heartbeat({ workerId: 'w', taskId: 't', lease: 'l' })));
  await refused(call({ token: CLIENT }, (c) => c.getTask({ workerId: 'w', waitMs: 0 })));
  const res = await call({ token: WORKER }, (c) => c.getTask({ workerId: 'w', waitMs: 0 }));
  assert.equal(res.task, undefined);
});

test('a streaming WatchJob without a token is refused with UNAUTHENTICATED', async () => {
  await refused(
    call({}, async (c) => {
      for await (const _ of c.watchJob({ jobId: 'x' })) break;
    }),
  );
});

test('TLS round trip with a self-signed certificate, and plaintext clients are refused', async () => {
  const cert = path.join(dir.path, 'cert.pem');
  const key = path.join(dir.path, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const tlsRunning = await startCoordinator({
    listen: '127.0.0.1:0',
    db: path.join(dir.path, 'tls.sqlite'),
    tls: { cert: await readFile(cert), key: await readFile(key) },
    auth: { workerToken: WORKER },
  });
  try {
    const ca = await readFile(cert);
    const ok = connectCoordinator(tlsRunning.address, { tls: { ca }, token: WORKER });
    try {
      assert.match(ok.url, /^https:/);
      assert.deepEqual((await ok.client.listJobs({ limit: 1 })).jobs, []);
    } finally {
      ok.close();
    }
    // Without trusting the CA the handshake fails; without TLS the server hangs up.
    const untrusted = connectCoordinator(tlsRunning.address, { tls: {}, token: WORKER });
    const plain = connectCoordinator(tlsRunning.address, { token: WORKER });
    try {
      await assert.rejects(untrusted.client.listJobs({ limit: 1 }, { timeoutMs: 5000 }));
      await assert.rejects(plain.client.listJobs({ limit: 1 }, { timeoutMs: 5000 }));
    } finally {
      untrusted.close();
      plain.close();
    }
  } finally {
    await tlsRunning.close();
  }
});
