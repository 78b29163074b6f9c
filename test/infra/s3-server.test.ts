import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type S3Server, startS3Server } from '../helpers/s3-server.js';

const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes, produced in 1 MiB pieces so the upload is really streamed. */
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

async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { hash: hash.digest('hex'), bytes };
}

describe('startS3Server', () => {
  let s3: S3Server;
  let client: S3Client;

  before(async () => {
    s3 = await startS3Server();
    client = new S3Client(s3.clientConfig);
    await s3.createBucket('media', { cors: true });
  });
  after(async () => {
    client?.destroy();
    await s3?.stop();
  });

  test('a 12 MiB multipart upload in 5 MiB parts reads back identical, streamed', async () => {
    const size = 12 * MiB;
    const upload = new Upload({
      client,
      params: { Bucket: 'media', Key: 'job/big.bin', Body: patternStream(size) },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    await upload.done();
    const parts = s3.requests.filter((r) => r.method === 'PUT' && /[?&]partNumber=\d+/.test(r.url));
    assert.equal(parts.length, 3);
    assert.ok(
      s3.requests.some((r) => r.method === 'POST' && r.url.includes('uploadId=') && r.status === 200),
    );

    const got = await client.send(new GetObjectCommand({ Bucket: 'media', Key: 'job/big.bin' }));
    assert.equal(got.ContentLength, size);
    const read = await sha256Of(got.Body as Readable);
    assert.deepEqual(read, await sha256Of(patternStream(size)));
  });

  test('a streamed PutObject (aws-chunked with a CRC32 trailer) stores exactly the bytes sent', async () => {
    const parts = [Buffer.from('#EXTM3U\n'), Buffer.from('#EXT-X-VERSION:7\n')];
    await client.send(
      new PutObjectCommand({
        Bucket: 'media',
        Key: 'job/index.m3u8',
        Body: Readable.from(parts),
        ContentLength: 25,
        ContentType: 'application/vnd.apple.mpegurl',
      }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: 'media', Key: 'job/index.m3u8' }));
    assert.equal(await got.Body!.transformToString(), '#EXTM3U\n#EXT-X-VERSION:7\n');
    assert.equal(got.ContentType, 'application/vnd.apple.mpegurl');
  });

  test('objects are readable by plain HTTP GET, with ranges and CORS, but not writable unsigned', async () => {
    const res = await fetch(s3.objectUrl('media', 'job/index.m3u8'), {
      headers: { Origin: 'http://127.0.0.1:1' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(await res.text(), '#EXTM3U\n#EXT-X-VERSION:7\n');
    const part = await fetch(s3.objectUrl('media', 'job/index.m3u8'), { headers: { Range: 'bytes=0-6' } });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), '#EXTM3U');
    const anonymousPut = await fetch(s3.objectUrl('media', 'job/evil.m4s'), { method: 'PUT', body: 'x' });
    assert.equal(anonymousPut.status, 403);
    await anonymousPut.arrayBuffer();
    const missing = await fetch(s3.objectUrl('media', 'job/nope.m4s'));
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
  });

  test('a wrong secret is SignatureDoesNotMatch and an unknown key InvalidAccessKeyId, both 403', async () => {
    const cases = [
      {
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong' },
        code: 'SignatureDoesNotMatch',
      },
      {
        credentials: { accessKeyId: 'NOPE', secretAccessKey: s3.secretAccessKey },
        code: 'InvalidAccessKeyId',
      },
    ];
    for (const { credentials, code } of cases) {
      const bad = new S3Client({ ...s3.clientConfig, credentials, maxAttempts: 1 });
      await assert.rejects(bad.send(new ListObjectsV2Command({ Bucket: 'media' })), (error: Error) => {
        assert.equal(error.name, code);
        assert.equal((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 403);
        return true;
      });
      await assert.rejects(bad.send(new PutObjectCommand({ Bucket: 'media', Key: 'x', Body: 'x' })), {
        name: code,
      });
      bad.destroy();
    }
  });

  test('an injected 503 SlowDown is retried by the SDK; a reset connection surfaces as an error', async () => {
    let failures = 1;
    s3.setFault(({ method }) =>
      method === 'PUT' && failures-- > 0 ? { status: 503, code: 'SlowDown' } : undefined,
    );
    await client.send(new PutObjectCommand({ Bucket: 'media', Key: 'job/retry.txt', Body: 'ok' }));
    const puts = s3.requests.filter((r) => r.url.startsWith('/media/job/retry.txt') && r.method === 'PUT');
    assert.deepEqual(
      puts.map((r) => r.status),
      [503, 200],
    );

    s3.setFault(() => 'reset');
    const once = new S3Client({ ...s3.clientConfig, maxAttempts: 1 });
    await assert.rejects(once.send(new GetObjectCommand({ Bucket: 'media', Key: 'job/retry.txt' })));
    once.destroy();
    s3.setFault(undefined);
  });
});

test('bare s3rver (verifySignatures: false) accepts a wrong secret: it only checks the key id', async () => {
  const s3 = await startS3Server({ verifySignatures: false });
  try {
    await s3.createBucket('open');
    const wrongSecret = new S3Client({
      ...s3.clientConfig,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong' },
      maxAttempts: 1,
    });
    await wrongSecret.send(new PutObjectCommand({ Bucket: 'open', Key: 'k', Body: 'accepted' }));
    const unknownKey = new S3Client({
      ...s3.clientConfig,
      credentials: { accessKeyId: 'NOPE', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    await assert.rejects(unknownKey.send(new ListObjectsV2Command({ Bucket: 'open' })), {
      name: 'InvalidAccessKeyId',
    });
    wrongSecret.destroy();
    unknownKey.destroy();
  } finally {
    await s3.stop();
  }
});
