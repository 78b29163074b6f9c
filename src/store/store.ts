// The store: one database (SQLite file or PostgreSQL pool), migrated on open,
// with the queries grouped by table. Transactions are retried on lock contention
// and a lost database shows up as a Transient AppError.
import type { Kysely } from 'kysely';
import { AppError, ErrorKind, errorMessage } from '../errors.js';
import { type DialectName, type OpenOptions, openDatabase, type SqlDialect } from './dialect.js';
import { JobQueries } from './job-queries.js';
import { migrate } from './migrations.js';
import { RunQueries, WorkerQueries } from './run-queries.js';
import type { Database } from './schema.js';
import { TaskQueries } from './task-queries.js';

/** The queries, bound to the database or to one transaction. */
export interface Queries {
  jobs: JobQueries;
  tasks: TaskQueries;
  runs: RunQueries;
  workers: WorkerQueries;
}

export type StoreOptions = OpenOptions;

/** How long to keep retrying a statement or transaction that lost a lock race. */
const RETRY_FOR_MS = 10_000;

function queriesFor(db: Kysely<Database>, dialect: SqlDialect): Queries {
  return {
    jobs: new JobQueries(db, dialect),
    tasks: new TaskQueries(db, dialect),
    runs: new RunQueries(db),
    workers: new WorkerQueries(db),
  };
}

export class Store {
  private readonly plain: Queries;

  private constructor(
    /** The Kysely instance, for tests and tools; the coordinator goes through `query`/`transaction`. */
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
    /** The database location, without passwords. */
    readonly display: string,
  ) {
    this.plain = queriesFor(db, dialect);
  }

  /** Opens (creating if needed) and migrates the database at `location` (SQLite path or postgres:// URL). */
  static async open(location: string, options: StoreOptions = {}): Promise<Store> {
    let opened: ReturnType<typeof openDatabase>;
    try {
      opened = openDatabase(location, options);
    } catch (err) {
      throw new AppError(
        ErrorKind.AccessDenied,
        `cannot open the database ${location}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    const { db, dialect, display } = opened;
    const store = new Store(db, dialect, display);
    try {
      await store.retrying(() => migrate(db as Kysely<unknown>, dialect));
    } catch (err) {
      await db.destroy().catch(() => {});
      const cause = err instanceof AppError ? (err.cause ?? err) : err;
      const kind = dialect.isUnavailable(cause) ? ErrorKind.Transient : ErrorKind.Internal;
      throw new AppError(kind, `cannot open the database ${display}: ${errorMessage(cause)}`, { cause });
    }
    return store;
  }

  get dialectName(): DialectName {
    return this.dialect.name;
  }

  /**
   * Runs `fn` with queries outside any transaction (each statement atomic on its
   * own; retried on lock contention, so `fn` must be safe to run again).
   */
  query<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    return this.retrying(() => fn(this.plain));
  }

  /** Runs `fn` in one write transaction, retrying the whole of it on lock contention or deadlock. */
  transaction<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    return this.retrying(() => this.db.transaction().execute((trx) => fn(queriesFor(trx, this.dialect))));
  }

  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withErrors(fn);
      } catch (err) {
        const cause = err instanceof AppError && err.kind === ErrorKind.Transient ? err.cause : err;
        if (Date.now() - started > RETRY_FOR_MS || !this.dialect.isRetryable(cause)) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
      }
    }
  }

  /** Closes the connection or pool. */
  async close(): Promise<void> {
    await this.db.destroy();
  }

  private async withErrors<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (this.dialect.isUnavailable(err) || this.dialect.isRetryable(err))
        throw new AppError(ErrorKind.Transient, `database unavailable: ${errorMessage(err)}`, { cause: err });
      throw AppError.from(err);
    }
  }
}
