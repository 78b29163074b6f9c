// Hand-written SQL for the dispatch hot paths (claim, finish, heartbeat), run
// without Kysely's query building: the statements are fixed strings, so
// SQLite prepares each once and runs it synchronously on the connection, and
// PostgreSQL gets the text with `$n` placeholders. Statements use `?`
// placeholders and SQL that both databases accept.
import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Runs hand-written statements on one connection (or transaction). */
export interface RawSql {
  /** The rows a statement returns (SELECT, or a write with RETURNING). */
  rows<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>;
}

const STATEMENT_CACHE = 256;

/**
 * Statements on a better-sqlite3 connection. The caller must hold the connection
 * (Kysely's single-connection lock): a statement runs in whatever transaction is open.
 */
export class SqliteRaw implements RawSql {
  private readonly cache = new Map<string, SqliteDatabase.Statement>();

  constructor(readonly conn: SqliteDatabase.Database) {}

  /** A prepared statement for `sql`, prepared once. */
  statement(sql: string): SqliteDatabase.Statement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      stmt = this.conn.prepare(sql);
      if (this.cache.size >= STATEMENT_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }

  rowsSync<T>(sql: string, params: readonly unknown[]): T[] {
    return this.statement(sql).all(...params) as T[];
  }

  runSync(sql: string, params: readonly unknown[]): number {
    return this.statement(sql).run(...params).changes;
  }

  /** Runs a statement that takes no parameters and returns nothing (BEGIN, COMMIT, SAVEPOINT). */
  exec(sql: string): void {
    this.statement(sql).run();
  }

  rows<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
    try {
      return Promise.resolve(this.rowsSync<T>(sql, params));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  run(sql: string, params: readonly unknown[]): Promise<number> {
    try {
      return Promise.resolve(this.runSync(sql, params));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

const texts = new Map<string, string>();

/**
 * A hot statement's text, built once per `key` (a short name of the variant):
 * building it per call would also make every cache lookup by text hash a new
 * string of a thousand characters.
 */
export function sqlText(key: string, build: () => string): string {
  let text = texts.get(key);
  if (text === undefined) {
    text = build();
    texts.set(key, text);
  }
  return text;
}

const pgText = new Map<string, string>();

/**
 * The hand-written statements' PostgreSQL texts and the names they are prepared
 * under on each connection (dialect.ts): the server parses and plans each once
 * per connection instead of on every call. A fixed set: the statements are
 * fixed strings of this module's callers.
 */
export const PREPARED_NAMES = new Map<string, string>();

/** `?` placeholders as PostgreSQL's `$1, $2, ...` (the hot statements hold no `?` in literals). */
function toPg(sql: string): string {
  let text = pgText.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    pgText.set(sql, text);
    PREPARED_NAMES.set(text, `avspl1t_${PREPARED_NAMES.size + 1}`);
  }
  return text;
}

/** Statements through a Kysely instance (PostgreSQL: the pool, or the transaction's connection). */
export class KyselyRaw implements RawSql {
  constructor(private readonly db: Kysely<Database>) {}

  async rows<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
    return (await this.db.executeQuery<T>(CompiledQuery.raw(toPg(sql), [...params]))).rows;
  }

  async run(sql: string, params: readonly unknown[]): Promise<number> {
    const res = await this.db.executeQuery(CompiledQuery.raw(toPg(sql), [...params]));
    return Number(res.numAffectedRows ?? 0n);
  }
}
