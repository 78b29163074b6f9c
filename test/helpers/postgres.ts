/**
 * A throwaway PostgreSQL cluster for tests: its own data directory, a free loopback port, trust auth,
 * durability off for speed. As root the server runs as the `postgres` OS user (it refuses to run as root).
 * If the test process exits without stop(), an exit hook still kills the server (SIGQUIT) and deletes
 * its directory; a process killed by a signal skips exit hooks and can leave a postmaster behind.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { run } from './exec.js';
import { freePort, tmpDir } from './tmp.js';

/** A running cluster. */
export interface PostgresServer {
  /** URL of the `postgres` database as the `postgres` superuser, no password. */
  url: string;
  port: number;
  /** The cluster's data directory (for inspecting the server log, `server.log` beside it). */
  dataDir: string;
  /** Creates a database (name: letters, digits, `_`) and returns its URL. */
  createDatabase: (name: string) => Promise<string>;
  /** Immediate stop (like a crash: connections are cut) then start on the same port and data. */
  restart: () => Promise<void>;
  /** Immediate stop, keeping the data: the port refuses connections until resume(). */
  halt: () => Promise<void>;
  /** Starts a halted server again on the same port and data. */
  resume: () => Promise<void>;
  /** Immediate stop and delete everything. Safe to call twice. */
  stop: () => Promise<void>;
}

/** Options for {@link startPostgres}. */
export interface PostgresOptions {
  /** Directory with `initdb` and `pg_ctl`; default `PG_BIN_DIR` or the newest `/usr/lib/postgresql/<v>/bin`. */
  binDir?: string;
}

/** Finds the PostgreSQL server binaries: `PG_BIN_DIR`, else the highest version under /usr/lib/postgresql. */
export function findPostgresBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const base = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(base).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    // fall through to the error below
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = join(base, version, 'bin');
    try {
      if (readdirSync(dir).includes('initdb')) return dir;
    } catch {
      // not a server install
    }
  }
  throw new Error(`no PostgreSQL server found under ${base}; install postgresql or set PG_BIN_DIR`);
}

/** Initialises and starts a new cluster on 127.0.0.1. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const binDir = options.binDir ?? findPostgresBinDir();
  const dir = await tmpDir('avspl1t-pg-');
  const dataDir = join(dir.path, 'data');
  const logFile = join(dir.path, 'server.log');
  const asRoot = process.getuid?.() === 0;

  // As root, run each program as `postgres` and give it the directory.
  const pgUser = asRoot ? await osUser('postgres') : undefined;
  const runPg = (program: string, args: string[], timeoutMs = 60_000) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(binDir, program), ...args], { timeoutMs })
      : run(join(binDir, program), args, { timeoutMs });
  if (pgUser) await chown(dir.path, pgUser.uid, pgUser.gid);

  let stopped = false;
  const onExit = () => killFromExitHook(dataDir, dir.path);
  try {
    await runPg('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const port = await freePort();
    await appendFile(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir.path}'`,
        // A test cluster never outlives the machine: skip fsync. synchronous_commit stays on, or a
        // committed row could be lost on restart() (an immediate stop drops unwritten WAL buffers).
        'fsync = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    );

    const start = () => runPg('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60'], 90_000);
    const stopNow = () =>
      runPg('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], 60_000);
    process.on('exit', onExit);
    await start().catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\nserver log:\n${tail(logFile)}`);
    });

    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return {
      url,
      port,
      dataDir,
      createDatabase: async (name) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name: ${name}`);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE "${name}"`);
        } finally {
          await client.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      restart: async () => {
        await stopNow();
        await start();
      },
      halt: async () => {
        await stopNow();
      },
      resume: async () => {
        await start();
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        process.off('exit', onExit);
        await stopNow().catch(() => killFromExitHook(dataDir, dir.path));
        await dir.cleanup();
      },
    };
  } catch (error) {
    process.off('exit', onExit);
    killFromExitHook(dataDir, dir.path);
    throw error;
  }
}

/**
 * One cluster for the tests of the file or `describe` this is called in: registers node:test hooks there
 * that start it before them and stop it after them, and returns a getter for it (it throws until the
 * server is up, so call it in tests and later hooks). Hooks run in the order registered, `after` ones
 * too: register the clean-up that must come before the server stops (programs using it) ahead of this.
 * With `skip` (a test's skip value, for a file whose tests are all skipped) nothing starts.
 */
export function usePostgres(options: { skip?: boolean | string } = {}): () => PostgresServer {
  let server: PostgresServer | undefined;
  before(async () => {
    if (!options.skip) server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('usePostgres: the server is not started (its before hook has not run)');
    return server;
  };
}

/** Synchronous last resort: SIGQUIT (immediate shutdown) to the postmaster, then delete the directory. */
function killFromExitHook(dataDir: string, dir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGQUIT');
  } catch {
    // not running
  }
  rmSync(dir, { recursive: true, force: true });
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
