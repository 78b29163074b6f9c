/**
 * The databases the store contract suite runs against: SQLite, and PostgreSQL
 * whenever its server binaries are installed (one throwaway cluster per test
 * file, one fresh database per test). AVSPL1T_TEST_DB overrides: `sqlite`,
 * `postgres` or `all` (CI sets `all`, so a missing PostgreSQL fails instead of
 * being skipped).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { findPostgresBinDir, type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { tmpDir } from '../helpers/tmp.js';

/** A fresh, empty database for one test. */
export interface TestDatabase {
  /** What `--db` would take: a SQLite file path or a postgres:// URL. */
  location: string;
  cleanup(): Promise<void>;
}

export interface DatabaseFactory {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestDatabase>;
  /** Stops whatever the factory started (call from `after`). */
  teardown(): Promise<void>;
}

const sqlite: DatabaseFactory = {
  name: 'sqlite',
  async create() {
    const dir = await tmpDir('avspl1t-db-');
    return { location: path.join(dir.path, 'state.sqlite'), cleanup: dir.cleanup };
  },
  async teardown() {},
};

function postgres(): DatabaseFactory {
  let server: Promise<PostgresServer> | undefined;
  return {
    name: 'postgres',
    async create() {
      server ??= startPostgres();
      const s = await server;
      const location = await s.createDatabase(`t_${randomBytes(6).toString('hex')}`);
      return { location, cleanup: async () => {} };
    },
    async teardown() {
      if (server) await (await server).stop();
      server = undefined;
    },
  };
}

/** Whether PostgreSQL server binaries (initdb, pg_ctl) are installed. */
export function postgresInstalled(): boolean {
  try {
    findPostgresBinDir();
    return true;
  } catch {
    return false;
  }
}

/** The factories selected by AVSPL1T_TEST_DB (`sqlite`, `postgres`, `all`; default `all` when PostgreSQL is installed); any other value throws. */
export function databaseFactories(): DatabaseFactory[] {
  const choice = (process.env.AVSPL1T_TEST_DB ?? (postgresInstalled() ? 'all' : 'sqlite')).toLowerCase();
  // A misspelt value must not quietly select no database (the suites would define no tests).
  if (!['sqlite', 'postgres', 'all'].includes(choice))
    throw new Error(`AVSPL1T_TEST_DB must be sqlite, postgres or all, not ${JSON.stringify(choice)}`);
  const list: DatabaseFactory[] = [];
  if (choice === 'sqlite' || choice === 'all') list.push(sqlite);
  if (choice === 'postgres' || choice === 'all') list.push(postgres());
  return list;
}
