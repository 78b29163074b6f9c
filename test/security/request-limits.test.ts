// Request bodies are admitted before they are read: a call without a valid
// token is refused from its headers, a body over the limit from its declared
// length (or the gRPC frame's length prefix), and garbage protobuf is an
// invalid argument, over Connect and gRPC, for client and worker methods.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { startProgram, stopAll } from '../cli/processes.js';
import { startTestCoordinator } from '../coordinator/harness.js';
import { tmpDir } from '../helpers/tmp.js';
import { assertAnswers, grpcFrameHead, h1Post, h2Post, type RawAnswer } from './raw-peers.js';

after(stopAll);

const SERVICE = '/avspl1t.v1.CoordinatorService';
const WORKER = 'worker-secret';
const CLIENT = 'client-secret';
const MB = 1024 * 1024;
const GRPC = { 'content-type': 'application/grpc', te: 'trailers' };
const CONNECT_JSON = { 'content-type': 'application/json' };

/** Peak resident memory of process `pid` (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status);
  assert.ok(kb, 'VmHWM in /proc/<pid>/status');
  return Number(kb[1]) * 1024;
}

const connectCode = (a: RawAnswer) => (JSON.parse(a.body.toString() || '{}') as { code?: string }).code;

/**
 * Refused over HTTP/1.1 as unauthenticated: either the answer says so, or the
 * coordinator closed the connection on the unread body before the answer was read.
 */
function assertUnauthenticated(a: RawAnswer) {
  if (a.status === 0) return;
  assert.equal(a.status, 401);
  assert.equal(connectCode(a), 'unauthenticated');
}

test('an unauthenticated 80 MB body is refused from its headers on every path and the peak RSS grows far less', async () => {
  const dir = await tmpDir('avspl1t-limits-');
  try {
    const coordinator = startProgram([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--db',
      path.join(dir.path, 'db.sqlite'),
      '--worker-token',
      WORKER,
      '--token',
      CLIENT,
      '--log-level',
      'warn',
    ]);
    const address = (await coordinator.firstLine()).trim();
    await assertAnswers(address, CLIENT);
    const before = await peakRss(coordinator.child.pid!);
    const size = 80 * MB;

    assertUnauthenticated(await h1Post(address, `${SERVICE}/ListJobs`, CONNECT_JSON, { size }));
    assertUnauthenticated(await h1Post(address, `${SERVICE}/ListJobs`, CONNECT_JSON, { size }, true));
    const bad = { ...CONNECT_JSON, authorization: 'Bearer wrong' };
    assertUnauthenticated(await h1Post(address, `${SERVICE}/SubmitJob`, bad, { size }));
    // gRPC, a client method (ListJobs) and a worker method (GetTask).
    for (const method of ['ListJobs', 'GetTask']) {
      const answer = await h2Post(address, `${SERVICE}/${method}`, GRPC, {
        size: size + 5,
        head: grpcFrameHead(size),
      });
      assert.equal(answer.headers['grpc-status'], '16', `${method}: ${JSON.stringify(answer.headers)}`);
    }

    const growth = (await peakRss(coordinator.child.pid!)) - before;
    assert.ok(growth < 25 * MB, `peak RSS grew by ${(growth / MB).toFixed(1)} MB for 80 MB bodies`);
    await assertAnswers(address, CLIENT);
  } finally {
    await stopAll();
    await dir.cleanup();
  }
});

test('a body over the request limit is refused with RESOURCE_EXHAUSTED over Connect and gRPC, client and worker methods', async () => {
  const t = await startTestCoordinator({
    auth: { workerToken: WORKER, clientTokens: [CLIENT] },
    maxRequestBytes: MB,
  });
  try {
    const auth = { authorization: `Bearer ${CLIENT}` };
    const connect = await h1Post(
      t.address,
      `${SERVICE}/ListJobs`,
      { ...CONNECT_JSON, ...auth },
      { size: 2 * MB },
    );
    assert.equal(connect.status, 429);
    assert.equal(connectCode(connect), 'resource_exhausted');
    const chunked = await h1Post(
      t.address,
      `${SERVICE}/ListJobs`,
      { ...CONNECT_JSON, ...auth },
      { size: 2 * MB },
      true,
    );
    assert.equal(connectCode(chunked), 'resource_exhausted');
    const proto = await h1Post(
      t.address,
      `${SERVICE}/ListJobs`,
      { 'content-type': 'application/proto', ...auth },
      { size: 2 * MB },
      true,
    );
    assert.equal(connectCode(proto), 'resource_exhausted');
    const grpc = await h2Post(
      t.address,
      `${SERVICE}/ListJobs`,
      { ...GRPC, ...auth },
      {
        size: 2 * MB + 5,
        head: grpcFrameHead(2 * MB),
      },
    );
    assert.equal(grpc.headers['grpc-status'], '8', JSON.stringify(grpc.headers));
    const worker = await h2Post(
      t.address,
      `${SERVICE}/GetTask`,
      { ...GRPC, authorization: `Bearer ${WORKER}` },
      { size: 2 * MB + 5, head: grpcFrameHead(2 * MB) },
    );
    assert.equal(worker.headers['grpc-status'], '8', JSON.stringify(worker.headers));
    await assertAnswers(t.address, CLIENT);
  } finally {
    await t.close();
  }
});

test('garbage protobuf is answered INVALID_ARGUMENT over Connect and gRPC, client and worker methods', async () => {
  const t = await startTestCoordinator();
  try {
    // Field 1 with wire type 7, which does not exist.
    const garbage = Buffer.from([0x0f, 0xff, 0xff, 0x07]);
    const connect = await h1Post(
      t.address,
      `${SERVICE}/ListJobs`,
      { 'content-type': 'application/proto' },
      {
        size: garbage.length,
        head: garbage,
      },
    );
    assert.equal(connectCode(connect), 'invalid_argument', connect.body.toString());
    assert.equal(connect.status, 400);
    for (const method of ['ListJobs', 'GetTask', 'WatchJob']) {
      const framed = Buffer.concat([grpcFrameHead(garbage.length), garbage]);
      const answer = await h2Post(t.address, `${SERVICE}/${method}`, GRPC, {
        size: framed.length,
        head: framed,
      });
      assert.equal(answer.headers['grpc-status'], '3', `${method}: ${JSON.stringify(answer.headers)}`);
    }
    // A compressed-flag frame without grpc-encoding is the caller's mistake too.
    const flagged = Buffer.from([1, 0, 0, 0, 0]);
    const answer = await h2Post(t.address, `${SERVICE}/GetTask`, GRPC, { size: 5, head: flagged });
    assert.equal(answer.headers['grpc-status'], '3', JSON.stringify(answer.headers));
  } finally {
    await t.close();
  }
});
