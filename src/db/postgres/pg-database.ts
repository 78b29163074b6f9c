// Runs statements and transactions on the pool. A transaction is at most two
// round trips per step: pipelining sends BEGIN with the first reads, and the
// writes with COMMIT, each step in one socket write. Lost lock races and
// deadlocks are run again; a lost server is run again briefly, then answered
// with a Transient AppError (UNAVAILABLE at the RPC boundary); each outage is
// logged once.
import type pg from 'pg';
import { AppError, ErrorKind, errorMessage } from '../../errors.js';
import type { Availability } from '../availability.js';
import { isRetryable, isUnavailable } from './errors.js';
import { inOneWrite } from './pool.js';
import type { Statement } from './statement.js';

/** How long to keep running again a transaction that lost a lock race. */
const RETRY_FOR_MS = 10_000;
/**
 * How long one call retries an unreachable server (a restart or failover blip)
 * before answering Transient; once an outage is older than this, calls fail at once.
 */
const UNAVAILABLE_RETRY_MS = 3_000;

/** A transaction's statements. */
export interface Tx {
  /** Sends a statement now (behind those sent before); resolves to its rows. */
  rows<R>(stmt: Statement): Promise<R[]>;
  /** Sends `stmts` and COMMIT together; resolves to each statement's rows once committed. */
  commit(stmts: readonly Statement[]): Promise<unknown[][]>;
}

/** What a transaction run again knows of its earlier tries. */
export interface Attempt {
  /** Whether an earlier try lost its connection after sending COMMIT (so it may have committed). */
  mayHaveCommitted: boolean;
}

export class PgDatabase {
  constructor(
    readonly pool: pg.Pool,
    private readonly availability: Availability,
  ) {}

  /** Runs one statement on its own (atomic by itself), retried as a transaction is. */
  async rows<R>(stmt: Statement): Promise<R[]> {
    return this.retrying(async () => (await this.pool.query<R & pg.QueryResultRow>(stmt)).rows);
  }

  /** Runs one write on its own; resolves to the number of rows it changed. */
  async changed(stmt: Statement): Promise<number> {
    return this.retrying(async () => (await this.pool.query(stmt)).rowCount ?? 0);
  }

  /**
   * Runs `fn` in one transaction on one pooled connection. `fn` must end with
   * `tx.commit` (or throw); it runs again on a lost lock race or connection, so it
   * must read what it decides on inside the transaction.
   */
  transaction<T>(fn: (tx: Tx, attempt: Attempt) => Promise<T>): Promise<T> {
    let mayHaveCommitted = false;
    return this.retrying(async () => {
      const client = await this.pool.connect();
      let committing = false;
      let broken = false;
      const tx: Tx = {
        rows: async <R>(stmt: Statement) => (await client.query<R & pg.QueryResultRow>(stmt)).rows,
        commit: async (stmts) => {
          committing = true;
          // All sent before any reply is read; a failed statement rejects this first.
          const [results, commit] = await inOneWrite(client, () =>
            Promise.all([Promise.all(stmts.map((s) => client.query(s))), client.query('commit')]),
          );
          // COMMIT after a failed statement answers ROLLBACK (that failure is thrown above).
          if (commit.command !== 'COMMIT') throw new Error('the transaction was rolled back');
          return results.map((r) => r.rows);
        },
      };
      try {
        // BEGIN and what `fn` sends before it first waits go out in one write, and
        // are answered together.
        const [begin, running] = inOneWrite(client, () => [
          client.query('begin'),
          fn(tx, { mayHaveCommitted }),
        ]);
        begin.catch(() => {});
        const value = await running;
        await begin;
        if (!committing) throw new Error('a transaction ended without commit');
        return value;
      } catch (err) {
        if (committing && isUnavailable(err)) mayHaveCommitted = true;
        if (isUnavailable(err)) broken = true;
        else
          await client.query('rollback').catch(() => {
            broken = true;
          });
        throw err;
      } finally {
        // A client whose connection failed is dropped, not reused.
        client.release(broken);
      }
    });
  }

  /**
   * Runs `fn` again on lock contention (for up to RETRY_FOR_MS) and on a lost
   * connection (for up to UNAVAILABLE_RETRY_MS into an outage); errors come out as
   * AppErrors, the database's as Transient.
   */
  async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await fn();
        this.availability.succeeded();
        return value;
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (isUnavailable(err)) {
          this.availability.failed(err);
          if (
            Date.now() - started > UNAVAILABLE_RETRY_MS ||
            this.availability.downForMs() > UNAVAILABLE_RETRY_MS
          )
            throw transientError(err);
          await sleep(Math.min(1000, 100 * 2 ** (attempt - 1)));
          continue;
        }
        if (!isRetryable(err)) throw AppError.from(err);
        if (Date.now() - started > RETRY_FOR_MS) throw transientError(err);
        await sleep(Math.random() * Math.min(50, 2 * attempt));
      }
    }
  }
}

function transientError(err: unknown): AppError {
  return new AppError(ErrorKind.Transient, `database unavailable: ${errorMessage(err)}`, { cause: err });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
