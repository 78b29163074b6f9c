// The SQLite store's write transactions, batched: the writes asked for in one turn
// of the event loop run in one transaction, each inside a savepoint of its own, and
// commit together before any of them answers. A commit writes every page it dirtied
// to the WAL (and a checkpoint copies it again); writes of one batch share the pages
// they both touch (the claim and lease indexes, the job's row, the newest runs), so a
// busy coordinator writes each such page once per batch instead of once per call.
import type SqliteDatabase from 'better-sqlite3';
import { AppError } from '../../errors.js';
import { isBusy } from './connection.js';

/** Runs the function it is given inside one transaction (`.immediate` picks the BEGIN; inside one, a savepoint). */
export type InTransaction = SqliteDatabase.Transaction<<T>(fn: () => T) => T>;

interface Pending {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export class WriteBatch {
  private queue: Pending[] = [];

  /**
   * `retry` runs a whole batch, again while another connection holds the database
   * (the store's `run`); a batch that fails there rolls back whole.
   */
  constructor(
    private readonly inTransaction: InTransaction,
    private readonly retry: <T>(fn: () => T) => Promise<T>,
  ) {}

  /** Runs `fn` in the next batch; resolves once its batch committed, with what `fn` returned. */
  add<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      // The first write of a turn schedules the batch; the rest of the turn's writes join it.
      if (this.queue.length === 1) setImmediate(() => void this.commit());
    });
  }

  private async commit(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = await this.retry(
        () => this.inTransaction.immediate(() => batch.map((w) => this.one(w))) as Outcome[],
      );
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.ok) w.resolve(o.value);
      else w.reject(o.err);
    });
  }

  /** One write in its savepoint: a write that throws undoes only its own changes. */
  private one(w: Pending): Outcome {
    try {
      return { ok: true, value: this.inTransaction(w.fn) };
    } catch (err) {
      // Lock contention is the batch's to retry (it cannot happen once BEGIN IMMEDIATE holds the lock).
      if (isBusy(err)) throw err;
      return { ok: false, err: err instanceof AppError ? err : AppError.from(err) };
    }
  }
}
