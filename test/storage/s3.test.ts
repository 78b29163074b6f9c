// The S3 backend against a real S3-compatible HTTP server on loopback (s3rver behind a
// SigV4-checking, fault-injecting proxy): round trips through the Storage facade,
// multipart uploads, Content-Type, error mapping, retries.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { AppError, ErrorKind } from '../../src/errors.js';
import type { Folder } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { childFile, Storage } from '../../src/storage/index.js';
import { parseFile, parseFolder } from '../../src/storage/location.js';
import { S3Backend } from '../../src/storage/s3.js';
import { type S3Server, startS3Server } from '../helpers/s3-server.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
const WRONG_SECRET = 'wr0ng-S3cret-DO-NOT-LEAK-1234567890';

/** Deterministic pseudo-random bytes, in 1 MiB pieces. */
function patternStream(size: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= size) return void this.push(null);
      const piece = Buffer.alloc(Math.min(MiB, size - offset));
      for (let i = 0; i < piece.length; i++) piece[i] = ((offset + i) * 2654435761) >>> 24;
      offset += piece.length;
      this.push(piece);
    },
  });
}

async function sha256File(p: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Asserts an AppError of `kind` whose message matches `message` and never contains a secret. */
function appError(kind: ErrorKind, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (message) assert.match(err.message, message);
    for (const secret of [WRONG_SECRET, 'S3RVER']) {
      assert.ok(!err.message.includes(secret), `secret in message: ${err.message}`);
      assert.ok(!String(err.stack).includes(secret), 'secret in stack');
      assert.ok(!inspect(err, { depth: 8 }).includes(WRONG_SECRET), 'secret in the error or its cause');
    }
    return true;
  };
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('S3 backend', () => {
  let s3: S3Server;
  let tmp: TmpDir;
  let backend: S3Backend;
  let storage: Storage;
  let folder: Folder;
  const creds = () => ({
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });

  before(async () => {
    s3 = await startS3Server();
    await s3.createBucket('media', { cors: true });
    tmp = await tmpDir('avspl1t-s3-backend-');
    backend = new S3Backend();
    storage = new Storage().register('s3', backend);
    folder = parseFolder('s3://media/jobs/1/', creds());
  });
  after(async () => {
    backend?.destroy();
    await s3?.stop();
    await tmp?.cleanup();
  });

  test('Storage registers an S3 backend by default', async () => {
    const s = new Storage();
    await s.ensureWritable(folder);
    assert.equal(s.localPath(childFile(folder, 'x')), undefined);
    (s.backend(folder) as S3Backend).destroy();
  });

  test('upload + download round trip through the facade, with childFile, stat, exists, remove', async () => {
    const src = path.join(tmp.path, 'hello.txt');
    await writeFile(src, 'hello s3\n');
    await storage.ensureWritable(folder);
    const stored = await storage.upload(src, folder, 'pieces/hello.txt', { contentType: 'text/plain' });
    const expected = childFile(folder, 'pieces/hello.txt');
    assert.deepEqual(stored.location, expected.location);
    assert.equal(expected.location.case === 's3' && expected.location.value.path, 'jobs/1/pieces/hello.txt');

    const dest = path.join(tmp.path, 'hello.back.txt');
    await storage.download(expected, dest);
    assert.equal(await readFile(dest, 'utf8'), 'hello s3\n');
    assert.deepEqual(await storage.stat(expected), { size: 9 });
    assert.equal(await storage.exists(expected), true);
    assert.equal(storage.localPath(expected), undefined);

    await storage.remove(expected);
    assert.equal(await storage.exists(expected), false);
    await storage.remove(expected); // missing is fine
  });

  test('a 20 MiB file goes up as a multipart upload (8 MiB parts) and round-trips byte-exact', async () => {
    const size = 20 * MiB;
    const src = path.join(tmp.path, 'big.bin');
    await pipeline(patternStream(size), createWriteStream(src));
    const before = s3.requests.length;
    const progress: Array<[number, number]> = [];
    const file = await storage.upload(src, folder, 'big.bin', {
      contentType: 'video/mp4',
      onProgress: (bytes, total) => progress.push([bytes, total]),
    });
    const seen = s3.requests.slice(before);
    const parts = seen.filter(
      (r) => r.method === 'PUT' && /[?&]partNumber=\d+/.test(r.url) && r.status === 200,
    );
    assert.equal(parts.length, 3, JSON.stringify(seen));
    assert.ok(
      seen.some((r) => r.method === 'POST' && r.url.includes('uploads') && r.status === 200),
      'CreateMultipartUpload',
    );
    assert.ok(
      seen.some((r) => r.method === 'POST' && r.url.includes('uploadId=') && r.status === 200),
      'Complete',
    );
    assert.ok(progress.length >= 3);
    assert.deepEqual(progress.at(-1), [size, size]);

    assert.deepEqual(await storage.stat(file), { size });
    const dest = path.join(tmp.path, 'big.back.bin');
    await storage.download(file, dest);
    assert.equal(await sha256File(dest), await sha256File(src));
    const head = await fetch(s3.objectUrl('media', 'jobs/1/big.bin'), { method: 'HEAD' });
    assert.equal(head.headers.get('content-type'), 'video/mp4');
  });

  test('Content-Type from the options is stored and served', async () => {
    const src = path.join(tmp.path, 'index.m3u8');
    await writeFile(src, '#EXTM3U\n');
    for (const [name, type] of [
      ['index.m3u8', 'application/vnd.apple.mpegurl'],
      ['seg0.m4s', 'video/mp4'],
      ['a0.m4s', 'audio/mp4'],
    ] as const) {
      await storage.upload(src, folder, name, { contentType: type });
      const res = await fetch(s3.objectUrl('media', `jobs/1/${name}`));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), type);
      assert.equal(await res.text(), '#EXTM3U\n');
    }
  });

  test('a missing key is NotFound (stat, download); exists is false', async () => {
    const missing = childFile(folder, 'nope.m4s');
    await assert.rejects(
      storage.stat(missing),
      appError(ErrorKind.NotFound, /^not found: s3:\/\/media\/jobs\/1\/nope\.m4s$/),
    );
    const dest = path.join(tmp.path, 'nope');
    await assert.rejects(
      storage.download(missing, dest),
      appError(ErrorKind.NotFound, /s3:\/\/media\/jobs\/1\/nope\.m4s/),
    );
    assert.equal(await storage.exists(missing), false);
  });

  test('a missing bucket is NotFound naming the bucket', async () => {
    const gone = parseFolder('s3://no-such-bucket/out', creds());
    await assert.rejects(storage.ensureWritable(gone), appError(ErrorKind.NotFound, /no-such-bucket/));
    await assert.rejects(
      storage.download(childFile(gone, 'x.mp4'), path.join(tmp.path, 'x')),
      appError(ErrorKind.NotFound, /no-such-bucket/),
    );
    const src = path.join(tmp.path, 'small.txt');
    await writeFile(src, 'x');
    await assert.rejects(storage.upload(src, gone, 'x.txt'), appError(ErrorKind.NotFound, /no-such-bucket/));
  });

  test('wrong credentials are AccessDenied with a readable message and no secret', async () => {
    const badSecret = parseFolder('s3://media/jobs/1', { ...creds(), secretAccessKey: WRONG_SECRET });
    await assert.rejects(
      storage.ensureWritable(badSecret),
      appError(ErrorKind.AccessDenied, /^access denied to bucket media \(check credentials\)$/),
    );
    const src = path.join(tmp.path, 'small.txt');
    await writeFile(src, 'x');
    await assert.rejects(
      storage.upload(src, badSecret, 'x.txt'),
      appError(ErrorKind.AccessDenied, /wrong secret access key/),
    );
    await assert.rejects(
      storage.stat(childFile(badSecret, 'x.txt')),
      appError(ErrorKind.AccessDenied, /access denied/),
    );
    const badKey = parseFolder('s3://media/jobs/1', {
      ...creds(),
      accessKeyId: 'NOPE',
      secretAccessKey: WRONG_SECRET,
    });
    await assert.rejects(
      storage.upload(src, badKey, 'x.txt'),
      appError(ErrorKind.AccessDenied, /unknown access key id/),
    );
  });

  test('injected 503s are retried and the operation succeeds', async () => {
    const src = path.join(tmp.path, 'retry.txt');
    await writeFile(src, 'retried');
    let failures = 2;
    s3.setFault(({ method, url }) =>
      method === 'PUT' && url.startsWith('/media/jobs/1/retry.txt') && failures-- > 0
        ? { status: 503, code: 'SlowDown' }
        : undefined,
    );
    try {
      const file = await storage.upload(src, folder, 'retry.txt');
      const puts = s3.requests.filter(
        (r) => r.method === 'PUT' && r.url.startsWith('/media/jobs/1/retry.txt'),
      );
      assert.deepEqual(
        puts.map((r) => r.status),
        [503, 503, 200],
      );

      let getFailures = 2;
      s3.setFault(({ method, url }) =>
        method === 'GET' && url.startsWith('/media/jobs/1/retry.txt') && getFailures-- > 0
          ? { status: 500, code: 'InternalError' }
          : undefined,
      );
      const dest = path.join(tmp.path, 'retry.back.txt');
      await storage.download(file, dest);
      assert.equal(await readFile(dest, 'utf8'), 'retried');
      assert.equal(getFailures, -1);
    } finally {
      s3.setFault(undefined);
    }
  });

  test('persistent 503s and connection resets end as Transient after the retries', async () => {
    const few = new S3Backend({ maxAttempts: 2 });
    const s = new Storage().register('s3', few);
    try {
      s3.setFault(({ method }) => (method === 'HEAD' ? { status: 503, code: 'SlowDown' } : undefined));
      await assert.rejects(s.stat(childFile(folder, 'big.bin')), appError(ErrorKind.Transient, /503/));
      s3.setFault(() => 'reset');
      await assert.rejects(s.stat(childFile(folder, 'big.bin')), appError(ErrorKind.Transient));
    } finally {
      s3.setFault(undefined);
      few.destroy();
    }
  });

  test('an unreachable endpoint is Transient: "cannot reach S3 endpoint"', async () => {
    const port = await closedPort();
    const few = new S3Backend({ maxAttempts: 2 });
    const s = new Storage().register('s3', few);
    const endpoint = `http://127.0.0.1:${port}`;
    const nowhere = parseFolder('s3://media/x', { ...creds(), endpoint });
    try {
      await assert.rejects(
        s.ensureWritable(nowhere),
        appError(
          ErrorKind.Transient,
          new RegExp(`^cannot reach S3 endpoint ${endpoint.replace(/\./g, '\\.')}`),
        ),
      );
      await assert.rejects(
        s.stat(childFile(nowhere, 'y')),
        appError(ErrorKind.Transient, /cannot reach S3 endpoint/),
      );
    } finally {
      few.destroy();
    }
  });

  test('an aborted upload is Cancelled', async () => {
    const src = path.join(tmp.path, 'big.bin');
    const ac = new AbortController();
    const p = storage.upload(src, folder, 'aborted.bin', { signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    await assert.rejects(p, appError(ErrorKind.Cancelled));
  });

  test('a missing local source file is NotFound', async () => {
    await assert.rejects(
      storage.upload(path.join(tmp.path, 'absent'), folder, 'a'),
      appError(ErrorKind.NotFound),
    );
    assert.equal(parseFile('s3://media/jobs/1/big.bin', creds()).location.case, 's3');
  });

  test('a body that breaks mid-stream is downloaded again', async () => {
    const body = Buffer.alloc(256 * 1024, 7);
    let gets = 0;
    const srv = createHttpServer((req, res) => {
      gets++;
      res.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'video/mp4' });
      if (gets === 1) {
        res.write(body.subarray(0, 1000));
        setTimeout(() => req.socket.destroy(), 20);
      } else res.end(body);
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const b = new S3Backend();
    try {
      const dest = path.join(tmp.path, 'flaky.bin');
      await b.download(parseFile('s3://media/flaky.bin', { ...creds(), endpoint }), dest);
      assert.equal(gets, 2);
      assert.deepEqual(await readFile(dest), body);
    } finally {
      b.destroy();
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });

  test('without credentials in the location the default AWS chain (environment) is used', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    const b = new S3Backend();
    try {
      const envFolder = parseFolder('s3://media/env', { endpoint: s3.endpoint });
      assert.equal(envFolder.location.case === 's3' && envFolder.location.value.credentials?.accessKeyId, '');
      const src = path.join(tmp.path, 'env.txt');
      await writeFile(src, 'from env');
      await b.ensureWritable(envFolder);
      const f = await b.upload(src, envFolder, 'env.txt');
      assert.deepEqual(await b.stat(f), { size: 8 });
    } finally {
      b.destroy();
      for (const [k, v] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
