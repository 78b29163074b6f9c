// TLS and tokens as a user sets them on the command line, with every program a
// separate OS process: a coordinator serving TLS (--tls-cert/--tls-key) with its
// tokens from a flag and the environment, on PostgreSQL through a URL holding a
// password; a worker connecting over TLS (--tls-ca, token from the environment);
// client commands with --token/--tls-ca and with AVSPL1T_TOKEN/AVSPL1T_TLS_CA; a
// Connect-protocol client over TLS. A job runs through all of it, and no token
// or database password appears in anything the programs print.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import pg from 'pg';
import { CoordinatorService, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { cli, type Program, startProgram, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const WORKER_TOKEN = 'wkr-T0ken-flag-6b1f0e9d';
const CLIENT_TOKEN = 'cli-T0ken-env-93ac27d1';
const DB_PASSWORD = 'db-Pa55word-url-5e7d2a';
const SECRETS = [WORKER_TOKEN, CLIENT_TOKEN, DB_PASSWORD];

let dir: TmpDir;
let pgServer: PostgresServer;
let address: string;
let ca: string;
let clip: string;
const programs: Program[] = [];
const printed: string[] = [];

/** Runs `fn` with extra environment variables, for the processes it starts. */
async function withEnv<T>(env: Record<string, string>, fn: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function client(args: string[], env: Record<string, string> = {}, timeoutMs?: number) {
  const r = await withEnv(env, () => cli(args, timeoutMs));
  printed.push(r.stdout, r.stderr);
  return r;
}

/** A CA and a certificate for 127.0.0.1 signed by it, made by openssl now. */
async function makeCertificates(): Promise<{ ca: string; cert: string; key: string }> {
  const f = (name: string) => path.join(dir.path, name);
  const ssl = (args: string[]) => run('openssl', args);
  await ssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=avspl1t test CA'].concat([
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.pem'),
    ]),
  );
  await ssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key')].concat([
      '-out',
      f('server.csr'),
    ]),
  );
  await writeFile(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await ssl(
    ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key')].concat([
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f('ext.cnf'),
      '-out',
      f('server.pem'),
    ]),
  );
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

/** A database owned by a role that must log in with DB_PASSWORD (scram), and its URL with the password. */
async function passwordDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: pgServer.url });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE avspl1t_app LOGIN PASSWORD '${DB_PASSWORD}'`);
    await admin.query('CREATE DATABASE avspl1t_app OWNER avspl1t_app');
    // Ahead of the cluster's trust lines: this role needs its password.
    const hba = path.join(pgServer.dataDir, 'pg_hba.conf');
    await writeFile(hba, `host all avspl1t_app 127.0.0.1/32 scram-sha-256\n${await readFile(hba, 'utf8')}`);
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
  return `postgres://avspl1t_app:${DB_PASSWORD}@127.0.0.1:${pgServer.port}/avspl1t_app`;
}

before(async () => {
  await run('openssl', ['version']).catch((err: unknown) => {
    throw new Error(`these tests make their certificates with openssl, which did not run: ${err}`);
  });
  dir = await tmpDir('avspl1t-cli-tls-');
  pgServer = await startPostgres();
  const [certs, url, made] = await Promise.all([
    makeCertificates(),
    passwordDatabase(),
    makeClip(dir.path, CLIPS.short),
  ]);
  ca = certs.ca;
  clip = made;
  // The wrong password is refused: the URL's password is really what logs in.
  const wrong = new pg.Client({ connectionString: url.replace(DB_PASSWORD, 'not-it') });
  await assert.rejects(wrong.connect(), /password authentication failed/);
  await wrong.end().catch(() => {});

  const coordinator = await withEnv({ AVSPL1T_TOKEN: CLIENT_TOKEN }, () =>
    startProgram([
      ...['coordinator', '--listen', '127.0.0.1:0', '--db', url, '--log-level', 'debug'],
      ...['--tls-cert', certs.cert, '--tls-key', certs.key, '--worker-token', WORKER_TOKEN],
    ]),
  );
  programs.push(coordinator);
  address = await coordinator.firstLine();
  programs.push(
    await withEnv({ AVSPL1T_WORKER_TOKEN: WORKER_TOKEN }, () =>
      startProgram([
        ...['worker', '--coordinator', address, '--tls-ca', ca, '--log-level', 'debug'],
        ...['--tmp-dir', path.join(dir.path, 'tmp')],
      ]),
    ),
  );
});
after(async () => {
  await stopAll();
  await pgServer?.stop();
  await dir?.cleanup();
});

describe('TLS and tokens from the command line', { concurrency: 1 }, () => {
  let jobId: string;

  it('submit with --token and --tls-ca; a worker over TLS runs the job; wait with AVSPL1T_TOKEN and AVSPL1T_TLS_CA', async () => {
    const submitted = await client([
      ...['submit', '--coordinator', address, '--token', CLIENT_TOKEN, '--tls-ca', ca],
      ...[
        '--input',
        clip,
        '--working-dir',
        path.join(dir.path, 'work'),
        '--output-dir',
        path.join(dir.path, 'out'),
      ],
      ...['--preset', '12', '--crf', '45'],
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    jobId = submitted.stdout.trim();
    const waited = await client(
      ['wait', jobId, '--coordinator', address],
      { AVSPL1T_TOKEN: CLIENT_TOKEN, AVSPL1T_TLS_CA: ca },
      180_000,
    );
    assert.equal(waited.code, 0, `${waited.stderr}\n${programs.map((p) => p.output().stderr).join('\n')}`);
    assert.equal(waited.stdout.trim(), path.join(dir.path, 'out', 'master.m3u8'));
  });

  it('a Connect-protocol client over TLS with the client token reads the job', async () => {
    const transport = createConnectTransport({
      baseUrl: `https://${address}`,
      httpVersion: '1.1',
      nodeOptions: { ca: await readFile(ca) },
      interceptors: [
        (next) => (req) => {
          req.header.set('authorization', `Bearer ${CLIENT_TOKEN}`);
          return next(req);
        },
      ],
    });
    const { job } = await createClient(CoordinatorService, transport).getJob({ jobId });
    assert.equal(job?.state, JobState.SUCCEEDED);
  });

  it('without the token, without the CA, or in plaintext a client command fails with a clear error', async () => {
    const noToken = await client(['jobs', '--coordinator', address, '--tls-ca', ca]);
    assert.notEqual(noToken.code, 0);
    assert.match(noToken.stderr, /unauthenticated|token/i);
    const wrongToken = await client(['jobs', '--coordinator', address, '--tls-ca', ca, '--token', 'nope']);
    assert.notEqual(wrongToken.code, 0);
    assert.match(wrongToken.stderr, /unauthenticated|token/i);
    const noCa = await client(['jobs', '--coordinator', `https://${address}`, '--token', CLIENT_TOKEN]);
    assert.notEqual(noCa.code, 0, 'a certificate from an unknown CA is not trusted');
    const plain = await client(['jobs', '--coordinator', address, '--token', CLIENT_TOKEN], {}, 20_000);
    assert.notEqual(plain.code, 0, 'plaintext is refused');
    const listed = await client(['jobs', '--coordinator', address], {
      AVSPL1T_TOKEN: CLIENT_TOKEN,
      AVSPL1T_TLS_CA: ca,
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(jobId));
  });

  it('a coordinator that cannot reach its database says so without printing the password', async () => {
    const down = startProgram([
      ...['coordinator', '--listen', '127.0.0.1:0', '--log-level', 'debug'],
      ...['--db', `postgres://avspl1t_app:${DB_PASSWORD}@127.0.0.1:1/avspl1t_app`],
    ]);
    const code = await Promise.race([
      down.exited,
      new Promise((r) => setTimeout(() => r('still running'), 60_000)),
    ]);
    printed.push(down.output().stdout, down.output().stderr);
    assert.notEqual(code, 0, 'it exits with an error');
    assert.match(down.output().stderr, /127\.0\.0\.1:1|ECONNREFUSED|database/i);
  });

  it('no token and no database password appears in any output of the coordinator, the worker or the commands', async () => {
    const all = [...printed, ...programs.flatMap((p) => [p.output().stdout, p.output().stderr])];
    assert.ok(all.join('').length > 1000, 'the programs did print (debug logs)');
    for (const secret of SECRETS) {
      const where = all.findIndex((text) => text.includes(secret));
      assert.equal(where, -1, `secret ${secret} printed: ${all[where]?.slice(0, 2000)}`);
    }
  });
});
