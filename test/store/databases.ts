/**
 * The databases the store contract suite runs against. SQLite always; PostgreSQL
 * when AVSPL1T_TEST_DB is `postgres` or `all` (one throwaway cluster per test
 * file, one fresh database per test).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { type PostgresServer, startPostgres } from '../helpers/postgres.js';
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

/** The factories selected by AVSPL1T_TEST_DB (`sqlite` default, `postgres`, or `all`). */
export function databaseFactories(): DatabaseFactory[] {
  const choice = (process.env.AVSPL1T_TEST_DB ?? 'sqlite').toLowerCase();
  const list: DatabaseFactory[] = [];
  if (choice === 'sqlite' || choice === 'all') list.push(sqlite);
  if (choice === 'postgres' || choice === 'all') list.push(postgres());
  return list;
}
