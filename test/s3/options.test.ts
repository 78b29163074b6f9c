// Where the CLI's S3 settings come from (flags, environment, config file), which
// keys travel with a job, and the HTTP URL `status` prints for an S3 playlist.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveS3 } from '../../src/cli/s3-options.js';
import { AppError, ErrorKind } from '../../src/errors.js';
import { httpUrl } from '../../src/storage/index.js';
import { parseFile } from '../../src/storage/location.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const KEYS = { accessKeyId: 'AKIAFLAG', secretAccessKey: 'flag-secret' };

function invalid(message: RegExp, secret?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.kind, ErrorKind.InvalidInput, err.message);
    assert.match(err.message, message);
    if (secret) assert.ok(!err.message.includes(secret), `secret in message: ${err.message}`);
    return true;
  };
}

describe('S3 settings for the CLI', () => {
  let dir: TmpDir;
  let config: string;
  // No default config file in the way: XDG_CONFIG_HOME points at an empty dir.
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ XDG_CONFIG_HOME: dir.path, ...extra });

  before(async () => {
    dir = await tmpDir('avspl1t-s3-options-');
    config = path.join(dir.path, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        s3: {
          endpoint: 'http://cfg.example:9000',
          region: 'eu-west-3',
          accessKeyId: 'AKIACONFIG',
          secretAccessKey: 'config-secret',
        },
      }),
    );
  });
  after(() => dir.cleanup());

  it('keys from flags are forwarded to workers by default; --no-forward-credentials keeps them out', async () => {
    const s = await resolveS3({ ...KEYS, endpoint: 'http://127.0.0.1:9000/', region: 'r1' }, env());
    assert.equal(s.forwarded, true);
    assert.deepEqual(s.job, { endpoint: 'http://127.0.0.1:9000', region: 'r1', ...KEYS });
    const kept = await resolveS3({ ...KEYS, region: 'r1', forwardCredentials: false }, env());
    assert.equal(kept.forwarded, false);
    assert.deepEqual(kept.job, { region: 'r1' });
    assert.deepEqual(kept.local, { region: 'r1', ...KEYS });
  });

  it('keys from the environment are the AWS chain: used locally, forwarded only with --forward-credentials', async () => {
    const e = env({
      AWS_ACCESS_KEY_ID: 'AKIAENV',
      AWS_SECRET_ACCESS_KEY: 'env-secret',
      AWS_SESSION_TOKEN: 'env-token',
      AWS_REGION: 'ap-south-1',
      AVSPL1T_S3_ENDPOINT: 'https://minio.local',
    });
    const s = await resolveS3({}, e);
    assert.equal(s.forwarded, false);
    assert.deepEqual(s.job, { endpoint: 'https://minio.local', region: 'ap-south-1' });
    assert.equal(s.local.secretAccessKey, 'env-secret');
    assert.equal(s.local.sessionToken, 'env-token');
    const f = await resolveS3({ forwardCredentials: true }, e);
    assert.equal(f.forwarded, true);
    assert.equal(f.job.secretAccessKey, 'env-secret');
    // AWS_ENDPOINT_URL is the SDK-wide name for the same thing.
    assert.equal((await resolveS3({}, env({ AWS_ENDPOINT_URL: 'http://x:1' }))).job.endpoint, 'http://x:1');
  });

  it('flags beat the environment, which beats the config file; config keys are forwarded', async () => {
    const fromConfig = await resolveS3({ config }, env());
    assert.deepEqual(fromConfig.job, {
      endpoint: 'http://cfg.example:9000',
      region: 'eu-west-3',
      accessKeyId: 'AKIACONFIG',
      secretAccessKey: 'config-secret',
    });
    const mixed = await resolveS3(
      { config, region: 'flag-region' },
      env({ AVSPL1T_S3_ENDPOINT: 'http://env:1', AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'e' }),
    );
    assert.equal(mixed.local.region, 'flag-region');
    assert.equal(mixed.local.endpoint, 'http://env:1');
    assert.equal(mixed.local.accessKeyId, 'AKIAENV');
    // The default path: $XDG_CONFIG_HOME/avspl1t/config.json, absent here, is an empty config.
    assert.deepEqual(await resolveS3({}, env()), { local: {}, job: {}, forwarded: false });
  });

  it('bad settings are one InvalidInput naming the problem, never echoing a secret', async () => {
    await assert.rejects(resolveS3({ accessKeyId: 'AKIA' }, env()), invalid(/must be given together/));
    await assert.rejects(
      resolveS3({ endpoint: 'ftp://x' }, env()),
      invalid(/--endpoint: endpoint must be an http/),
    );
    await assert.rejects(
      resolveS3({ endpoint: 'http://user:pw-secret@x' }, env()),
      invalid(/must not contain credentials/, 'pw-secret'),
    );
    await assert.rejects(
      resolveS3({ config: path.join(dir.path, 'missing.json') }, env()),
      invalid(/cannot read/),
    );
    const bad = path.join(dir.path, 'bad.json');
    await writeFile(bad, JSON.stringify({ s3: { secretAccessKey: 42, accessKeyId: 'k' } }));
    await assert.rejects(resolveS3({ config: bad }, env()), invalid(/s3\.secretAccessKey/));
    await writeFile(bad, JSON.stringify({ s3: { secretAcessKey: 'typo-secret' } }));
    await assert.rejects(resolveS3({ config: bad }, env()), invalid(/config file/, 'typo-secret'));
    await writeFile(bad, '{ not json');
    await assert.rejects(resolveS3({ config: bad }, env()), invalid(/not valid JSON/));
  });
});

describe('httpUrl', () => {
  it('path-style on a configured endpoint, virtual-hosted on AWS, nothing for the filesystem', () => {
    assert.equal(
      httpUrl(parseFile('s3://media/out/job 1/master.m3u8', { endpoint: 'http://127.0.0.1:9000/' })),
      'http://127.0.0.1:9000/media/out/job%201/master.m3u8',
    );
    assert.equal(
      httpUrl(parseFile('s3://media/out/master.m3u8', { region: 'eu-west-1' })),
      'https://media.s3.eu-west-1.amazonaws.com/out/master.m3u8',
    );
    assert.equal(httpUrl(parseFile('s3://media/a.m3u8')), 'https://media.s3.us-east-1.amazonaws.com/a.m3u8');
    assert.equal(httpUrl(parseFile('/tmp/a.m3u8')), undefined);
  });
});
