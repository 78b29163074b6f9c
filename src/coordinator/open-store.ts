// Opens the coordinator's database at start, waiting for it while it cannot be
// reached (a PostgreSQL restarting or not up yet) and failing at once when it is
// wrong for good (bad credentials, no such database, a SQLite file that cannot
// be opened): the store classifies the failure as Transient or not.
import { setTimeout as sleep } from 'node:timers/promises';
import { openTaskStore, type TaskStore } from '../db/index.js';
import { AppError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** The first wait after a failed try; it doubles up to {@link MAX_WAIT_MS}. */
const FIRST_WAIT_MS = 500;
/** Longest wait between tries: a database back from a restart is noticed within this. */
const MAX_WAIT_MS = 10_000;

export interface OpenWhenReachableOptions {
  log: Logger;
  poolSize?: number;
  /** Told why the last try failed (for /readyz while waiting). */
  onWait?: (reason: string) => void;
}

/** Opens the store at `location`, trying again with capped backoff while the failure is transient. */
export async function openStoreWhenReachable(
  location: string,
  options: OpenWhenReachableOptions,
): Promise<TaskStore> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openTaskStore(location, { log: options.log, poolSize: options.poolSize });
    } catch (err) {
      if (!(err instanceof AppError && err.transient)) throw err;
      const retryInMs = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** (attempt - 1));
      // The store's message names the database without its password.
      const reason = errorMessage(err);
      options.onWait?.(reason);
      options.log.warn(
        { event: 'database_wait', attempt, retryInMs, err: reason },
        'database not reachable at start; waiting for it',
      );
      await sleep(retryInMs);
    }
  }
}
