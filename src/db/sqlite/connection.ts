// Opens a SQLite database file for the SQLite task store: the one better-sqlite3
// connection (WAL, owner-only file modes) and a Kysely instance on the same
// connection for migrations and admin reads.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from '../schema.js';

/** The absolute file of a SQLite `--db` value (a path or `sqlite:` path). */
export function sqliteFile(location: string): string {
  return path.resolve(location.replace(/^sqlite:(\/\/)?/i, ''));
}

/** Opens (creating if needed) the database file; the caller migrates it. */
export function openConnection(file: string): { conn: SqliteDatabase.Database; db: Kysely<Database> } {
  mkdirSync(path.dirname(file), { recursive: true });
  ownerOnly(file, true);
  // No busy timeout: better-sqlite3 would wait for another connection's lock
  // synchronously, blocking the event loop. The store retries SQLITE_BUSY
  // asynchronously instead (store.ts `run`).
  const conn = new SqliteDatabase(file, { timeout: 0 });
  try {
    conn.pragma('journal_mode = WAL');
    // SQLite gives these the database's mode when it creates them; older ones may be looser.
    ownerOnly(`${file}-wal`, false);
    ownerOnly(`${file}-shm`, false);
    // WAL with NORMAL: a commit is durable against a process crash, and only a
    // checkpoint waits for the disk (so commits cost microseconds, not an fsync).
    conn.pragma('synchronous = NORMAL');
    conn.pragma('foreign_keys = ON');
  } catch (err) {
    conn.close();
    throw err;
  }
  return { conn, db: new Kysely<Database>({ dialect: new SqliteDialect({ database: conn }) }) };
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether a SQLite error is lock contention (another process held the database too long). */
export function isBusy(err: unknown): boolean {
  const code = errorCode(err);
  return code?.startsWith('SQLITE_BUSY') === true || code === 'SQLITE_LOCKED';
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
