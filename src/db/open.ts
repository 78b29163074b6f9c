// Opens the task store a `--db` value names: a PostgreSQL URL or a SQLite file.
// The one place that chooses between the implementations; the PostgreSQL driver
// is loaded only for a PostgreSQL URL.
import { existsSync } from 'node:fs';
import { sqliteFile } from './sqlite/connection.js';
import { SqliteTaskStore } from './sqlite/store.js';
import type { OpenOptions, TaskStore } from './task-store.js';

/** Whether a `--db` value selects PostgreSQL. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Opens (creating if needed) and migrates the database at `location` (SQLite path or postgres:// URL). */
export async function openTaskStore(location: string, options: OpenOptions = {}): Promise<TaskStore> {
  if (isPostgresUrl(location)) {
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(location, options);
  }
  return SqliteTaskStore.open(sqliteFile(location));
}

/**
 * The file opening `location` would create: a SQLite file that does not exist
 * yet (so a failed start can remove it again); undefined otherwise.
 */
export function fileToCreate(location: string): string | undefined {
  if (isPostgresUrl(location)) return undefined;
  const file = sqliteFile(location);
  return existsSync(file) ? undefined : file;
}

export { sqliteFile };
