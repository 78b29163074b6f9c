// The PostgreSQL TaskStore: the one entry point of src/db/postgres/.
import type { OpenOptions, TaskStore } from '../task-store.js';
import { PostgresTaskStore } from './postgres-store.js';

export { PostgresTaskStore };

/** Opens (and migrates) the PostgreSQL database at `url` (postgres:// or postgresql://). */
export function openPostgresStore(url: string, options: OpenOptions = {}): Promise<TaskStore> {
  return PostgresTaskStore.open(url, options);
}
