// `submit --upload` of an input larger than one 8 MiB part, as OS processes: the
// CLI sends it as a multipart upload (parts seen by the S3 server), the stored
// object is the local file byte for byte, and a worker encodes the job from it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { cli, startProgram, startWorker, stopAll } from '../cli/processes.js';
import { run } from '../helpers/exec.js';
import { type S3Server, startS3Server } from '../helpers/s3-server.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
const BUCKET = 'media';
const KEY_ID = 'AKIAAVSPL1TUPLOAD';
const SECRET = 'upload-S3cret-7d1e0b';

let dir: TmpDir;
let s3: S3Server;
let client: S3Client;
let address: string;

before(async () => {
  dir = await tmpDir('avspl1t-s3-upload-');
  s3 = await startS3Server({ credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } });
  await s3.createBucket(BUCKET);
  client = new S3Client(s3.clientConfig);
  const coordinator = startProgram([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--db',
    path.join(dir.path, 'db.sqlite'),
  ]);
  address = await coordinator.firstLine();
  startWorker(address, path.join(dir.path, 'tmp-worker'));
});
after(async () => {
  await stopAll();
  client?.destroy();
  await s3?.stop();
  await dir?.cleanup();
});

test('submit --upload of a file over 8 MiB goes up in parts, arrives whole, and the job runs from it', async () => {
  // 3 s of lossless noise: a real video over 8 MiB that encodes in seconds.
  const input = path.join(dir.path, 'noisy.mkv');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-nostdin', '-f', 'lavfi'],
    ...['-i', 'testsrc2=size=320x180:rate=30:duration=3,noise=alls=100:allf=t'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-g', '30', input],
  ]);
  const size = (await stat(input)).size;
  assert.ok(size > 8 * MiB && size <= 16 * MiB, `input is ${size} bytes: two parts`);

  const before = s3.requests.length;
  const submitted = await cli([
    ...['submit', '--coordinator', address, '--input', input, '--upload'],
    ...['--working-dir', `s3://${BUCKET}/work`, '--output-dir', `s3://${BUCKET}/out`],
    ...[
      '--endpoint',
      s3.endpoint,
      '--region',
      s3.region,
      '--access-key-id',
      KEY_ID,
      '--secret-access-key',
      SECRET,
    ],
    ...['--seconds-per-segment', '1', '--preset', '12', '--crf', '45'],
  ]);
  assert.equal(submitted.code, 0, submitted.stderr);
  const jobId = submitted.stdout.trim();

  const uploaded = s3.requests
    .slice(before)
    .filter((r) => r.url.startsWith(`/${BUCKET}/work/input/`) && r.method !== 'GET' && r.method !== 'HEAD');
  const parts = uploaded.filter((r) => r.method === 'PUT' && /[?&]partNumber=\d/.test(r.url));
  assert.equal(parts.length, 2, `two parts: ${JSON.stringify(uploaded)}`);
  assert.ok(
    parts.every((r) => r.status === 200),
    JSON.stringify(parts),
  );
  assert.ok(
    uploaded.some((r) => r.method === 'POST' && r.url.includes('uploadId=') && r.status === 200),
    'CompleteMultipartUpload',
  );
  const key = new URL(parts[0]!.url, 'http://x').pathname.slice(`/${BUCKET}/`.length);
  assert.equal(key, 'work/input/noisy.mkv');
  const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(await object.Body!.transformToByteArray()), sha(await readFile(input)));
  assert.deepEqual(
    (await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? [],
    [],
  );

  const waited = await cli(['wait', jobId, '--coordinator', address], 240_000);
  assert.equal(waited.code, 0, waited.stderr);
  assert.equal(waited.stdout.trim(), `s3://${BUCKET}/out/master.m3u8`);
  // Three 1 s segments of the 3 s input (its frames and rate are what ffmpeg was told above).
  const playlist = await (await fetch(s3.objectUrl(BUCKET, 'out/video.m3u8'))).text();
  assert.equal(playlist.split('\n').filter((l) => l.startsWith('#EXTINF')).length, 3, playlist);
});
