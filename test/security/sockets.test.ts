// Socket-level fuzzing of the coordinator's port: random bytes, truncated
// HTTP/2 prefaces, resets at every stage of a call and slow senders, in-process
// and against the real `avspl1t coordinator`; afterwards it still answers.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import { startProgram, stopAll } from '../cli/processes.js';
import { startTestCoordinator } from '../coordinator/harness.js';
import { tmpDir } from '../helpers/tmp.js';
import { assertAnswers, rawSocket, sendThenReset, sleep } from './raw-peers.js';

after(stopAll);

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const LIST_JOBS = '/avspl1t.v1.CoordinatorService/ListJobs';

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An HTTP/2 call that is cut (socket reset) after `stage`. */
async function h2CutAfter(address: string, stage: 'settings' | 'headers' | 'body'): Promise<void> {
  const socket = await rawSocket(address);
  const session = http2.connect(`http://${address}`, { createConnection: () => socket });
  session.on('error', () => {});
  await new Promise<void>((resolve) => {
    session.once('remoteSettings', () => resolve());
    setTimeout(resolve, 1000);
  });
  if (stage !== 'settings') {
    const stream = session.request({
      ':method': 'POST',
      ':path': LIST_JOBS,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    if (stage === 'body') stream.write(Buffer.from([0, 0, 0, 1, 0, 8]));
    await sleep(20);
  }
  socket.resetAndDestroy();
}

/** Writes `text` one byte at a time, `gapMs` apart, then resets. */
async function slowSender(address: string, text: string, gapMs: number): Promise<void> {
  const socket = await rawSocket(address);
  for (const ch of text) {
    if (socket.destroyed) return;
    socket.write(ch);
    await sleep(gapMs);
  }
  socket.resetAndDestroy();
}

/** The hostile peers, all at once; each one's own failure is not the test's. */
async function fuzz(address: string, seed: number): Promise<void> {
  const random = prng(seed);
  const peers: Promise<unknown>[] = [];
  // Resets at every stage of a plaintext HTTP/1.1 or HTTP/2 call.
  for (let i = 0; i < 5; i++) peers.push(sendThenReset(address));
  peers.push(sendThenReset(address, 'P'));
  peers.push(sendThenReset(address, PREFACE.slice(0, 10)));
  peers.push(sendThenReset(address, PREFACE));
  peers.push(sendThenReset(address, PREFACE, Buffer.from([0, 0, 6, 4, 0, 0, 0])));
  peers.push(h2CutAfter(address, 'settings'));
  peers.push(h2CutAfter(address, 'headers'));
  peers.push(h2CutAfter(address, 'body'));
  peers.push(sendThenReset(address, 'POST /avspl1t'));
  peers.push(sendThenReset(address, `POST ${LIST_JOBS} HTTP/1.1\r\nHost: x\r\nContent-Ty`));
  peers.push(
    sendThenReset(
      address,
      `POST ${LIST_JOBS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"li`,
    ),
  );
  // HTTP/1.0 needs no Host header: a request without one must not break the handler.
  peers.push(
    sendThenReset(
      address,
      `POST ${LIST_JOBS} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    ),
  );
  // Truncated prefaces closed politely.
  for (const n of [1, 5, 15, 23]) {
    peers.push(
      rawSocket(address).then((s: net.Socket) => {
        s.end(PREFACE.slice(0, n));
      }),
    );
  }
  // Random bytes, some behind a valid preface, closed or reset.
  for (let i = 0; i < 40; i++) {
    const bytes = Buffer.alloc(1 + Math.floor(random() * 4096));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    const head = random() < 0.3 ? Buffer.from(PREFACE) : Buffer.alloc(0);
    const reset = random() < 0.5;
    peers.push(
      rawSocket(address).then(async (s) => {
        s.write(Buffer.concat([head, bytes]));
        await sleep(Math.floor(random() * 50));
        if (reset) s.resetAndDestroy();
        else s.end();
      }),
    );
  }
  // Slow senders.
  peers.push(slowSender(address, `GET / HTTP/1.1\r\nHost: x\r\n`, 20));
  peers.push(slowSender(address, PREFACE, 20));
  await Promise.allSettled(peers);
}

test('random bytes, truncated prefaces, resets at every stage and slow senders leave the coordinator answering', async () => {
  const t = await startTestCoordinator();
  try {
    await fuzz(t.address, 14);
    await sleep(200);
    await assertAnswers(t.address);
  } finally {
    await t.close();
  }
});

test('the same peers against TLS leave the coordinator answering', async () => {
  // TLS on the port: the peers' garbage never gets past the handshake, but resets still happen.
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { readFile } = await import('node:fs/promises');
  const dir = await tmpDir('avspl1t-fuzz-tls-');
  const cert = path.join(dir.path, 'cert.pem');
  const key = path.join(dir.path, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const pem = await readFile(cert);
  const t = await startTestCoordinator({ tls: { cert: pem, key: await readFile(key) } });
  try {
    await fuzz(t.address, 15);
    await sleep(200);
    const { connectCoordinator } = await import('../../src/rpc/index.js');
    const h = connectCoordinator(t.address, { tls: { ca: pem } });
    try {
      assert.ok(Array.isArray((await h.client.listJobs({}, { timeoutMs: 10_000 })).jobs));
    } finally {
      h.close();
    }
  } finally {
    await t.close();
    await dir.cleanup();
  }
});

test('`avspl1t coordinator` survives connections reset before, during and after the preface', async () => {
  const dir = await tmpDir('avspl1t-fuzz-cli-');
  try {
    const coordinator = startProgram([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--db',
      path.join(dir.path, 'db.sqlite'),
      '--log-level',
      'warn',
    ]);
    const address = (await coordinator.firstLine()).trim();
    await fuzz(address, 16);
    await sleep(300);
    const exited = await Promise.race([coordinator.exited, sleep(10).then(() => undefined)]);
    assert.equal(exited, undefined, `coordinator exited: ${coordinator.output().stderr}`);
    await assertAnswers(address);
  } finally {
    await stopAll();
    await dir.cleanup();
  }
});
