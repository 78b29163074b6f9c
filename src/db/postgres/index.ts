// Placeholder until wip/pgstore (the PostgreSQL TaskStore) is merged: on a merge
// conflict, take wip/pgstore's version of this file.
import { AppError, ErrorKind } from '../../errors.js';
import type { OpenOptions, TaskStore } from '../task-store.js';

/** Opens (and migrates) the PostgreSQL database at `url`. */
export async function openPostgresStore(_url: string, _options: OpenOptions = {}): Promise<TaskStore> {
  throw new AppError(ErrorKind.Internal, 'the PostgreSQL task store is not merged into this branch yet');
}
