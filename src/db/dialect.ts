// Every difference between SQLite and PostgreSQL lives in this file: how to
// connect, the binary column type, row locks for claims and job updates, write
// transactions, and which errors are worth retrying. Queries elsewhere are
// written once with Kysely and run unchanged on both.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresDialect,
  type SelectQueryBuilder,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import type pg from 'pg';
import { PREPARED_NAMES, SqliteRaw } from './raw-sql.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

/** The dialect-specific pieces the queries and migrations need. */
export interface SqlDialect {
  readonly name: DialectName;
  /** Column type for serialized protobuf. */
  readonly blobType: 'blob' | 'bytea';
  /** Locks the selected rows until the transaction ends (a no-op where the transaction locks the database). */
  lockRows<DB, TB extends keyof DB, O>(qb: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /** Locks the selected rows, skipping rows other transactions hold (claims never wait on each other). */
  lockSkipLocked<DB, TB extends keyof DB, O>(
    qb: SelectQueryBuilder<DB, TB, O>,
  ): SelectQueryBuilder<DB, TB, O>;
  /** The same two locks as SQL suffixes of a hand-written SELECT (empty where not needed). */
  readonly forUpdate: string;
  readonly forUpdateSkipLocked: string;
  /** Whether a WITH clause may hold INSERT/UPDATE (PostgreSQL): several writes in one round trip. */
  readonly writesInWith: boolean;
  /** Whether a failed transaction may succeed if run again (lock contention, deadlock, serialization). */
  isRetryable(err: unknown): boolean;
  /** Whether the error means the database cannot be reached right now. */
  isUnavailable(err: unknown): boolean;
}

/** An open database connection (or pool) and its dialect. */
export interface OpenDatabase {
  db: Kysely<Database>;
  dialect: SqlDialect;
  /** A display form of the location, without passwords. */
  display: string;
  /**
   * SQLite only: hand-written statements straight on the one connection (once
   * Kysely has opened it; the caller must hold Kysely's connection lock).
   */
  sqlite?: () => SqliteRaw;
}

export interface OpenOptions {
  /** Called when an idle pooled connection fails (PostgreSQL); the pool reconnects by itself. */
  onPoolError?: (err: Error) => void;
  /** Maximum pooled connections (PostgreSQL). */
  poolSize?: number;
}

/** Whether a `--db` value selects PostgreSQL. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The absolute file of a SQLite `--db` value (a path or `sqlite:` path). */
export function sqliteFile(location: string): string {
  return path.resolve(location.replace(/^sqlite:(\/\/)?/i, ''));
}

/**
 * Opens a SQLite file (path or `sqlite:` path) or a PostgreSQL URL. The PostgreSQL
 * driver is loaded only for a PostgreSQL URL (start-up of SQLite-only runs).
 */
export async function openDatabase(location: string, options: OpenOptions = {}): Promise<OpenDatabase> {
  if (isPostgresUrl(location)) return openPostgres((await import('pg')).default, location, options);
  return openSqlite(sqliteFile(location));
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

const noLock = <DB, TB extends keyof DB, O>(qb: SelectQueryBuilder<DB, TB, O>) => qb;

function openSqlite(file: string): OpenDatabase {
  const full = path.resolve(file);
  mkdirSync(path.dirname(full), { recursive: true });
  let raw: SqliteRaw | undefined;
  const config: SqliteDialectConfig = {
    database: async () => {
      // No busy timeout: better-sqlite3 would wait for a lock synchronously, blocking
      // the event loop (and so the very transaction holding the lock, when both are
      // in this process). The store retries SQLITE_BUSY asynchronously instead.
      ownerOnly(full, true);
      const conn = new SqliteDatabase(full, { timeout: 0 });
      conn.pragma('journal_mode = WAL');
      // SQLite gives these the database's mode when it creates them; older ones may be looser.
      ownerOnly(`${full}-wal`, false);
      ownerOnly(`${full}-shm`, false);
      conn.pragma('synchronous = NORMAL');
      conn.pragma('foreign_keys = ON');
      reusePreparedStatements(conn);
      raw = new SqliteRaw(conn);
      return conn;
    },
  };
  return {
    db: new Kysely<Database>({ dialect: new ImmediateSqliteDialect(config) }),
    display: full,
    sqlite: () => {
      if (!raw) throw new Error('the SQLite connection is not open yet');
      return raw;
    },
    dialect: {
      name: 'sqlite',
      blobType: 'blob',
      lockRows: noLock,
      lockSkipLocked: noLock,
      forUpdate: '',
      forUpdateSkipLocked: '',
      writesInWith: false,
      isRetryable: (err) =>
        errorCode(err)?.startsWith('SQLITE_BUSY') === true || errorCode(err) === 'SQLITE_LOCKED',
      isUnavailable: () => false,
    },
  };
}

/**
 * Makes `file` readable and writable by its owner only (0600, whatever the
 * umask): the database may hold S3 keys. Creates it first when `create`. A file
 * owned by someone else keeps the mode its owner chose.
 */
function ownerOnly(file: string, create: boolean): void {
  try {
    if (create) closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'EPERM' && !(code === 'ENOENT' && !create)) throw err;
  }
}

const STATEMENT_CACHE = 256;

/**
 * Kysely prepares every query anew, which costs more than running it; the SQL of
 * a query builder is the same every time, so keep the prepared statements.
 */
function reusePreparedStatements(conn: SqliteDatabase.Database): void {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, SqliteDatabase.Statement>();
  conn.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (!stmt) {
      stmt = prepare(source);
      if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
      cache.set(source, stmt);
    }
    return stmt;
  }) as typeof conn.prepare;
}

/**
 * SQLite with `BEGIN IMMEDIATE`: every transaction here writes, and taking the
 * write lock up front avoids the deadlock of two readers upgrading to writers
 * (which SQLite answers with SQLITE_BUSY without waiting).
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly cfg: SqliteDialectConfig) {
    super(cfg);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.cfg);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * Runs the hand-written statements (raw-sql.ts) of a connection as named
 * prepared statements: Kysely's driver sends `query(text, values)`, which
 * PostgreSQL parses and plans anew every time.
 */
function prepareHandWritten(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    const [text, values] = args;
    const name = args.length === 2 && typeof text === 'string' ? PREPARED_NAMES.get(text) : undefined;
    return name ? query({ name, text, values }) : query(...args);
  }) as typeof client.query;
}

const PG_INT8 = 20;
const int8AsNumber = (v: string) => Number(v);
const PG_RETRYABLE = new Set(['40001', '40P01', '55P03']);

function openPostgres(driver: typeof pg, url: string, options: OpenOptions): OpenDatabase {
  const pool = new driver.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // Fail a connection attempt to a dead or partitioned server instead of waiting forever.
    connectionTimeoutMillis: 5_000,
    // Notice a server that vanished without closing the TCP connection.
    keepAlive: true,
    // Timestamps are int8 (bigint) milliseconds: read them as numbers, not strings.
    // (pg asks for every column of every result: one parser function, not a new one each time.)
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8
          ? int8AsNumber
          : driver.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A client losing its connection must not crash the process: the pool handles
  // idle ones ('error' on the pool), but a checked-out client between two queries
  // of a transaction emits 'error' on itself. Its next query fails (a Transient
  // error for the caller) and the pool drops it on release.
  pool.on('error', (err) => options.onPoolError?.(err));
  pool.on('connect', (client) => {
    client.on('error', (err) => options.onPoolError?.(err));
    prepareHandWritten(client);
  });
  const display = url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    display,
    dialect: {
      name: 'postgres',
      blobType: 'bytea',
      lockRows: (qb) => qb.forUpdate(),
      lockSkipLocked: (qb) => qb.forUpdate().skipLocked(),
      forUpdate: ' for update',
      forUpdateSkipLocked: ' for update skip locked',
      writesInWith: true,
      isRetryable: (err) => PG_RETRYABLE.has(errorCode(err) ?? ''),
      isUnavailable: (err) => {
        const code = errorCode(err) ?? '';
        return (
          code.startsWith('08') ||
          code === '57P01' ||
          code === '57P03' ||
          ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
          /Connection terminated|connection timeout|not queryable/i.test((err as Error | null)?.message ?? '')
        );
      },
    },
  };
}
