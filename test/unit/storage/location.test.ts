import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { AppError, ErrorKind } from '../../../src/errors.js';
import { childFile, describe as describeLoc } from '../../../src/storage/index.js';
import { parseFile, parseFolder, parseLocation, redactLocation } from '../../../src/storage/location.js';

const invalid = (err: unknown) => err instanceof AppError && err.kind === ErrorKind.InvalidInput;

test('parseLocation: s3 URLs with defaults', () => {
  const loc = parseLocation('s3://media/jobs/1/in.mp4', {
    endpoint: 'http://127.0.0.1:9000',
    region: 'eu-west-1',
    accessKeyId: 'AK',
    secretAccessKey: 'SK',
  });
  assert.equal(loc.case, 's3');
  assert.equal(loc.value.bucket, 'media');
  assert.equal(loc.value.path, 'jobs/1/in.mp4');
  assert.equal(loc.value.credentials?.endpoint, 'http://127.0.0.1:9000');
  assert.equal(loc.value.credentials?.region, 'eu-west-1');
  assert.equal(loc.value.credentials?.accessKeyId, 'AK');
  assert.equal(loc.value.credentials?.secretAccessKey, 'SK');
});

test('parseLocation: s3 URL without defaults has no credentials (default AWS chain)', () => {
  const loc = parseLocation('s3://media');
  assert.equal(loc.case, 's3');
  assert.equal(loc.value.path, '');
  assert.equal(loc.value.credentials, undefined);
});

test('parseLocation: paths and file URLs become absolute fs locations', () => {
  const rel = parseLocation('out/dir');
  assert.deepEqual(rel.case === 'fs' && rel.value.path, path.resolve('out/dir'));
  const abs = parseLocation('/tmp/a/../b.mp4');
  assert.equal(abs.case === 'fs' && abs.value.path, '/tmp/b.mp4');
  const url = parseLocation('file:///tmp/x.mp4');
  assert.equal(url.case === 'fs' && url.value.path, '/tmp/x.mp4');
});

test('parseLocation: bad input is InvalidInput and never echoes credentials', () => {
  assert.throws(() => parseLocation(''), invalid);
  assert.throws(() => parseLocation('s3://'), invalid);
  assert.throws(() => parseLocation('s3:///key'), invalid);
  assert.throws(() => parseLocation('http://example.com/x'), invalid);
  assert.throws(
    () => parseLocation('s3://AK:topsecret@bucket/key'),
    (err: unknown) => invalid(err) && !(err as Error).message.includes('topsecret'),
  );
  assert.throws(() => parseLocation('s3://b/k', { accessKeyId: 'AK' }), invalid);
});

test('parseFile / parseFolder', () => {
  assert.throws(() => parseFile('s3://media/'), invalid);
  const folder = parseFolder('s3://media/out///');
  assert.equal(folder.location.case === 's3' && folder.location.value.path, 'out');
  assert.equal(describeLoc(childFile(folder, 'master.m3u8')), 's3://media/out/master.m3u8');
  assert.equal(parseFile('./a.mp4').location.case, 'fs');
});

test('redactLocation drops keys and token, keeps endpoint and region, does not mutate', () => {
  const file = parseFile('s3://media/out/master.m3u8', {
    endpoint: 'http://127.0.0.1:9000',
    region: 'eu-west-1',
    accessKeyId: 'AK',
    secretAccessKey: 'SECRET',
    sessionToken: 'TOKEN',
  });
  const red = redactLocation(file);
  assert.equal(red.$typeName, 'avspl1t.v1.File');
  const json = JSON.stringify(red);
  for (const s of ['AK', 'SECRET', 'TOKEN']) assert.ok(!json.includes(s), json);
  assert.equal(
    red.location.case === 's3' && red.location.value.credentials?.endpoint,
    'http://127.0.0.1:9000',
  );
  assert.equal(file.location.case === 's3' && file.location.value.credentials?.secretAccessKey, 'SECRET');
  const bare = redactLocation(
    parseFolder('s3://media/out', { accessKeyId: 'AK', secretAccessKey: 'SECRET' }),
  );
  assert.equal(bare.location.case === 's3' && bare.location.value.credentials, undefined);
  const fs = parseFile('/tmp/x');
  assert.deepEqual(redactLocation(fs), fs);
  assert.equal(redactLocation(undefined), undefined);
});
