// The store: one database (SQLite file or PostgreSQL pool), migrated on open,
// with the queries grouped by table. Transactions are retried on lock contention;
// a lost database is retried briefly, then shows up as a Transient AppError
// (UNAVAILABLE at the RPC boundary), and each outage is logged once.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { AppError, ErrorKind, errorMessage } from '../errors.js';
import { Availability } from './availability.js';
import { type DialectName, type OpenOptions, openDatabase, type SqlDialect } from './dialect.js';
import { GroupCommit } from './group-commit.js';
import { JobQueries } from './job-queries.js';
import { migrate } from './migrations.js';
import { OutputQueries } from './output-queries.js';
import { KyselyRaw, type RawSql, type SqliteRaw } from './raw-sql.js';
import { RunQueries, WorkerQueries } from './run-queries.js';
import type { Database } from './schema.js';
import { TaskQueries } from './task-queries.js';

/** The queries, bound to the database or to one transaction. */
export interface Queries {
  jobs: JobQueries;
  tasks: TaskQueries;
  runs: RunQueries;
  workers: WorkerQueries;
  outputs: OutputQueries;
}

export interface StoreOptions extends OpenOptions {
  /** Where outages (start and end) are reported. */
  log?: Logger;
}

/** How long to keep retrying a statement or transaction that lost a lock race. */
const RETRY_FOR_MS = 10_000;
/**
 * How long one call retries an unreachable database (a restart or failover blip)
 * before answering Transient; once an outage is older than this, calls fail at once.
 */
const UNAVAILABLE_RETRY_MS = 3_000;

function queriesFor(db: Kysely<Database>, dialect: SqlDialect, raw: RawSql): Queries {
  return {
    jobs: new JobQueries(db, dialect, raw),
    tasks: new TaskQueries(db, dialect, raw),
    runs: new RunQueries(db, raw),
    workers: new WorkerQueries(db, raw),
    outputs: new OutputQueries(db),
  };
}

export class Store {
  private readonly plain: Queries;
  /** SQLite: write transactions committed in groups. */
  private readonly group?: GroupCommit<Queries>;

  private constructor(
    /** The Kysely instance, for tests and tools; the coordinator goes through `query`/`transaction`. */
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
    /** The database location, without passwords. */
    readonly display: string,
    private readonly availability: Availability,
    private readonly sqlite?: () => SqliteRaw,
  ) {
    this.plain = queriesFor(db, dialect, new KyselyRaw(db));
    if (sqlite) this.group = new GroupCommit(db, sqlite, (conn) => queriesFor(conn, dialect, sqlite()));
  }

  /** Whether the database is currently unreachable (as far as the last call knows). */
  get unavailable(): boolean {
    return this.availability.down;
  }

  /** Opens (creating if needed) and migrates the database at `location` (SQLite path or postgres:// URL). */
  static async open(location: string, options: StoreOptions = {}): Promise<Store> {
    let opened: Awaited<ReturnType<typeof openDatabase>>;
    let availability: Availability | undefined;
    try {
      opened = await openDatabase(location, {
        ...options,
        // A pooled connection dying (server restart) starts an outage; the pool reconnects by itself.
        onPoolError: (err) => {
          availability?.failed(err);
          options.onPoolError?.(err);
        },
      });
    } catch (err) {
      throw new AppError(
        ErrorKind.AccessDenied,
        `cannot open the database ${location}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    const { db, dialect, display, sqlite } = opened;
    availability = new Availability(options.log, display);
    const store = new Store(db, dialect, display, availability, sqlite);
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
    const sqlite = this.sqlite;
    if (sqlite)
      // Hand-written statements run straight on the connection: hold it, so they
      // never land inside a transaction that is in progress.
      return this.retrying(() =>
        this.db.connection().execute((conn) => fn(queriesFor(conn, this.dialect, sqlite()))),
      );
    return this.retrying(() => fn(this.plain));
  }

  /**
   * Runs a write that is one statement on PostgreSQL (atomic by itself: no
   * BEGIN/COMMIT round trips) and may be several on SQLite (a transaction there,
   * committed with the others waiting).
   */
  write<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    return this.dialect.writesInWith ? this.query(fn) : this.transaction(fn);
  }

  /** Runs `fn` in one write transaction, retrying the whole of it on lock contention or deadlock. */
  transaction<T>(fn: (q: Queries) => Promise<T>): Promise<T> {
    const group = this.group;
    if (group) return this.retrying(() => group.run(fn));
    return this.retrying(() =>
      this.db.transaction().execute((trx) => fn(queriesFor(trx, this.dialect, new KyselyRaw(trx)))),
    );
  }

  /**
   * Runs `fn` again on lock contention (for up to RETRY_FOR_MS) and on a lost
   * connection (for up to UNAVAILABLE_RETRY_MS into an outage). A transaction whose
   * COMMIT was cut off may have committed; every write is guarded by state and
   * lease, so running it again changes nothing twice.
   */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await this.withErrors(fn);
        this.availability.succeeded();
        return value;
      } catch (err) {
        const cause = err instanceof AppError && err.kind === ErrorKind.Transient ? err.cause : err;
        if (this.dialect.isUnavailable(cause)) {
          this.availability.failed(cause);
          if (
            Date.now() - started > UNAVAILABLE_RETRY_MS ||
            this.availability.downForMs() > UNAVAILABLE_RETRY_MS
          )
            throw err;
          await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** (attempt - 1))));
          continue;
        }
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
