// Opens the task store a `--db` value names: a PostgreSQL URL or a SQLite file.
// The one place that chooses between the implementations; the PostgreSQL driver
// is loaded only for a PostgreSQL URL.
import { invalidInput } from '../errors.js';
import { sqliteFile } from './sqlite/connection.js';
import { SqliteTaskStore } from './sqlite/store.js';
import type { OpenOptions, TaskStore } from './task-store.js';

/** Whether a `--db` value selects PostgreSQL. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Opens (creating if needed) and migrates the database at `location` (SQLite path or postgres:// URL). */
export async function openTaskStore(location: string, options: OpenOptions = {}): Promise<TaskStore> {
  // Any other `scheme://` would otherwise become a SQLite file named after the URL.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1];
  if (scheme && !isPostgresUrl(location) && scheme.toLowerCase() !== 'sqlite')
    throw invalidInput(
      `--db ${scheme}:// is not a database this program opens: use a postgres:// URL or a SQLite file path`,
    );
  if (isPostgresUrl(location)) {
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(location, options);
  }
  return SqliteTaskStore.open(sqliteFile(location));
}

export { sqliteFile };
