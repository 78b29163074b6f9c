// The soak's cluster: PostgreSQL, the S3 server, two coordinators behind HAProxy (mode tcp), N
// workers and a client probe, each program in its own namespace (net.ts), all real processes
// started through their command lines. Workers run as `nobody`, so a read-only folder stops them.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { findPostgresBinDir } from '../../test/helpers/postgres.js';
import { Network } from './net.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The CLI launcher (bin/avspl1t.js) and this folder's compiled helpers. */
export const BIN = path.resolve(here, '../../../bin/avspl1t.js');
const NOBODY = 65534;

export const PORTS = { coordinator: 50051, postgres: 5432, s3: 9000 } as const;
export const BUCKET = 'chaos';
/** The test S3 server's built-in key pair (test/helpers/s3-server.ts). */
export const S3_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface ClusterOptions {
  /** Everything of the run lives here (logs, databases, objects, shared folder). */
  runDir: string;
  workers: number;
  leaseSeconds: number;
  maxAttempts: number;
}

interface Managed {
  child: ChildProcess;
  exited: Promise<void>;
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Cluster {
  readonly net = new Network(`avc-${process.pid}`);
  readonly workerNames: string[];
  readonly shared: string;
  private readonly procs = new Map<string, Managed>();
  /** Set once stop() began: nothing is started any more (a fault still running must not restart a program). */
  private stopping = false;
  private readonly pgDir: string;
  private readonly binDir = findPostgresBinDir();

  constructor(readonly options: ClusterOptions) {
    this.workerNames = Array.from({ length: options.workers }, (_, i) => `w${i + 1}`);
    this.shared = path.join(options.runDir, 'shared');
    this.pgDir = path.join(options.runDir, 'pg');
  }

  /** The load balancer's address: what clients and workers are given. */
  get address(): string {
    return `${this.net.host('lb').address}:${PORTS.coordinator}`;
  }
  get s3Endpoint(): string {
    return `http://${this.net.host('s3').address}:${PORTS.s3}`;
  }
  get s3Socket(): string {
    return path.join(this.options.runDir, 's3.sock');
  }
  workerTmp(name: string): string {
    return path.join(this.options.runDir, `${name}-tmp`);
  }
  log(name: string): string {
    return path.join(this.options.runDir, 'logs', `${name}.log`);
  }

  /** Creates the hosts and starts every program; the cluster answers when this resolves. */
  async start(): Promise<void> {
    const { runDir } = this.options;
    await chmod(runDir, 0o755);
    await mkdir(path.join(runDir, 'logs'));
    await mkdir(this.shared);
    await chown(this.shared, NOBODY, NOBODY);
    const hosts: Record<string, number> = { pg: 2, s3: 3, client: 5, lb: 10, c1: 11, c2: 12 };
    for (const [i, w] of this.workerNames.entries()) hosts[w] = 21 + i;
    await this.net.create(hosts);
    await this.initPostgres();
    await this.startPostgres();
    await this.sql('CREATE DATABASE avspl1t', [], 'postgres');
    await mkdir(path.join(runDir, 's3'));
    await this.startS3();
    await this.startCoordinator('c1');
    await this.startCoordinator('c2');
    await this.startHaproxy();
    for (const w of this.workerNames) {
      await mkdir(this.workerTmp(w));
      await chown(this.workerTmp(w), NOBODY, NOBODY);
      this.startWorker(w);
    }
    this.spawnIn('probe', 'client', [
      process.execPath,
      path.join(here, 'probe.js'),
      this.address,
      '1000',
      '4000',
    ]);
  }

  /** One query on the soak's database through PostgreSQL's unix socket (outside the namespaces). */
  async sql<T>(text: string, params: unknown[] = [], database = 'avspl1t'): Promise<T[]> {
    const client = new pg.Client({ host: this.pgDir, port: PORTS.postgres, user: 'postgres', database });
    // A PostgreSQL restart (a fault) resets the connection: the pending call rejects and callers
    // expect that, but pg also emits 'error' on the client, which unheard would end the soak
    // (seen in CI: seed 19, ECONNRESET).
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(text, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  private async initPostgres(): Promise<void> {
    await mkdir(this.pgDir);
    await chown(this.pgDir, ...(await postgresIds()));
    await this.runAsPostgres(undefined, 'initdb', [
      '-D',
      this.pgData,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
    ]);
    await appendFile(
      path.join(this.pgData, 'postgresql.conf'),
      [
        '',
        `port = ${PORTS.postgres}`,
        `listen_addresses = '${this.net.host('pg').address}'`,
        `unix_socket_directories = '${this.pgDir}'`,
        'fsync = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    );
    // The coordinators connect from their own hosts.
    await appendFile(path.join(this.pgData, 'pg_hba.conf'), '\nhost all all 10.77.0.0/24 trust\n');
  }
  private get pgData(): string {
    return path.join(this.pgDir, 'data');
  }

  /** Starts PostgreSQL in its namespace and waits until it accepts connections. */
  async startPostgres(): Promise<void> {
    if (this.stopping) throw new Error('not starting PostgreSQL: the cluster is stopping');
    await this.runAsPostgres('pg', 'pg_ctl', [
      ...['start', '-D', this.pgData, '-l', path.join(this.pgDir, 'server.log'), '-w', '-t', '60'],
    ]);
  }

  /** Immediate stop: connections are cut, as in a crash. */
  async stopPostgres(): Promise<void> {
    await this.runAsPostgres(undefined, 'pg_ctl', [
      'stop',
      '-D',
      this.pgData,
      '-m',
      'immediate',
      '-w',
      '-t',
      '30',
    ]);
  }

  private runAsPostgres(host: string | undefined, program: string, args: string[]): Promise<void> {
    const argv = ['runuser', '-u', 'postgres', '--', path.join(this.binDir, program), ...args];
    const [command, ...rest] = host ? ['ip', 'netns', 'exec', this.net.host(host).ns, ...argv] : argv;
    return new Promise((resolve, reject) => {
      execFile(command!, rest, { timeout: 90_000 }, (error, _out, stderr) =>
        error ? reject(new Error(`${program} ${args[0]}: ${stderr.trim() || error.message}`)) : resolve(),
      );
    });
  }

  /** Starts the S3 host and waits for it to answer. */
  async startS3(): Promise<void> {
    const from = this.logSize('s3');
    this.spawnIn('s3', 's3', [
      process.execPath,
      path.join(here, 's3-host.js'),
      path.join(this.options.runDir, 's3'),
      `${this.net.host('s3').address}:${PORTS.s3}`,
      this.s3Socket,
      BUCKET,
    ]);
    await this.waitForLog('s3', from, /^ready /m, 120_000);
  }

  /** Starts a coordinator on PostgreSQL and waits until it listens. */
  async startCoordinator(name: string): Promise<void> {
    const from = this.logSize(name);
    const listen = `${this.net.host(name).address}:${PORTS.coordinator}`;
    const db = `postgres://postgres@${this.net.host('pg').address}:${PORTS.postgres}/avspl1t`;
    this.spawnIn(name, name, [
      ...[process.execPath, BIN, 'coordinator', '--listen', listen, '--db', db],
      ...[
        '--lease-seconds',
        String(this.options.leaseSeconds),
        '--max-attempts',
        String(this.options.maxAttempts),
      ],
      ...['--log-format', 'json', '--log-level', 'info'],
    ]);
    await this.waitForLog(name, from, new RegExp(`^${listen.replaceAll('.', '\\.')}$`, 'm'), 120_000);
  }

  /** Starts a worker as `nobody`, one task at a time, one encoder thread. */
  startWorker(name: string): void {
    this.spawnIn(name, name, [
      ...['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'],
      ...[process.execPath, BIN, 'worker', '--coordinator', this.address, '--id', name],
      ...['--concurrency', '1', '--threads', '1', '--tmp-dir', this.workerTmp(name), '--log-format', 'json'],
    ]);
  }

  private async startHaproxy(): Promise<void> {
    const config = path.join(this.options.runDir, 'haproxy.cfg');
    const server = (c: string) => `  server ${c} ${this.net.host(c).address}:${PORTS.coordinator} check`;
    await writeFile(
      config,
      [
        'global',
        '  maxconn 2000',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 120s',
        '  timeout server 120s',
        '  timeout check 3s',
        '  retries 2',
        '  option redispatch',
        'frontend coordinators',
        `  bind ${this.address}`,
        '  default_backend coordinators',
        'backend coordinators',
        '  balance roundrobin',
        // An HTTP/1.1 GET answers 404 from a live coordinator; a paused one answers nothing. The
        // check is lenient (3 s, three misses): on a loaded machine a live coordinator can be slow.
        '  option httpchk GET /',
        '  http-check expect status 404',
        '  default-server inter 1s fall 3 rise 1 on-marked-down shutdown-sessions',
        server('c1'),
        server('c2'),
        '',
      ].join('\n'),
    );
    this.spawnIn('haproxy', 'lb', ['haproxy', '-db', '-f', config]);
    await sleep(500);
  }

  /** Starts `argv` in `host`'s namespace; output appended to logs/<name>.log. */
  private spawnIn(name: string, host: string, argv: string[]): void {
    if (this.stopping) throw new Error(`not starting ${name}: the cluster is stopping`);
    const fd = openSync(this.log(name), 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: this.options.runDir };
    for (const key of Object.keys(env)) if (/^(AVSPL1T_|AWS_)/.test(key)) delete env[key];
    const child = spawn('ip', ['netns', 'exec', this.net.host(host).ns, ...argv], {
      stdio: ['ignore', fd, fd],
      env,
    });
    closeSync(fd);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.on('error', () => {});
    this.procs.set(name, { child, exited });
  }

  /** Whether stop() has begun. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** Starts again every program that is not running (a restart that failed under load), after the faults. */
  async restartStopped(): Promise<string[]> {
    const restarted: string[] = [];
    const gone = (name: string) => {
      const p = this.procs.get(name);
      return !p || p.child.exitCode !== null || p.child.signalCode !== null;
    };
    if (gone('s3')) await this.startS3().then(() => restarted.push('s3'));
    for (const c of ['c1', 'c2']) if (gone(c)) await this.startCoordinator(c).then(() => restarted.push(c));
    for (const w of this.workerNames) {
      if (gone(w)) {
        this.startWorker(w);
        restarted.push(w);
      }
    }
    return restarted;
  }

  /** Sends `signal` to a program; resolves once it is gone when the signal kills. */
  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill(signal);
    if (signal === 'SIGKILL') await p.exited;
  }

  private logSize(name: string): number {
    try {
      return readFileSync(this.log(name)).length;
    } catch {
      return 0;
    }
  }

  private async waitForLog(name: string, from: number, pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const text = readFileSync(this.log(name)).subarray(from).toString('utf8');
      if (pattern.test(text)) return;
      const p = this.procs.get(name);
      if (p && (p.child.exitCode !== null || p.child.signalCode !== null)) {
        const how = p.child.exitCode ?? p.child.signalCode;
        throw new Error(`${name} exited (${how}) before it was ready:\n${text.slice(-2000)}`);
      }
      await sleep(100);
    }
    throw new Error(`${name} not ready after ${timeoutMs} ms`);
  }

  /** Workers and the probe stopped gently, then everything killed, PostgreSQL stopped, hosts removed. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const name of ['probe', 'haproxy', 'c1', 'c2', 's3', ...this.workerNames]) {
      await this.signal(name, 'SIGCONT').catch(() => {});
      await this.signal(name, 'SIGKILL').catch(() => {});
    }
    await this.stopPostgres().catch(() => {});
    await this.net.destroy();
  }
}

async function postgresIds(): Promise<[number, number]> {
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) =>
      execFile('id', [flag, 'postgres'], (error, stdout) =>
        error ? reject(error) : resolve(Number(stdout.trim())),
      ),
    );
  return [await id('-u'), await id('-g')];
}
