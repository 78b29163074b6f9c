// Group commit for SQLite: write transactions asked for while another one runs
// wait, then run together inside one BEGIN IMMEDIATE ... COMMIT, each in its own
// savepoint (so one that throws is rolled back alone). The connection is one and
// serialized anyway; sharing the commit saves its cost (most of a claim's) when
// many workers call at once, and adds nothing when calls come one at a time.
import type { Kysely } from 'kysely';
import type { SqliteRaw } from './raw-sql.js';
import type { Database } from './schema.js';

interface Pending<Q> {
  fn: (q: Q) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Largest number of transactions committed together. */
const MAX_GROUP = 256;

export class GroupCommit<Q> {
  private queue: Pending<Q>[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly raw: () => SqliteRaw,
    private readonly queries: (conn: Kysely<Database>) => Q,
  ) {}

  /** Runs `fn` in a write transaction (shared with the others waiting at the time). */
  run<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running && !this.scheduled) {
        // Start after this turn of the event loop: the requests read from the
        // network in the same turn then share the transaction.
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          if (!this.running) void this.drain();
        });
      }
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, MAX_GROUP);
        await this.db
          .connection()
          .execute((conn) => this.commit(conn, group))
          .catch((err: unknown) => {
            for (const p of group) p.reject(err);
          });
      }
    } finally {
      this.running = false;
    }
  }

  /** One transaction for the group; settles every member. */
  private async commit(conn: Kysely<Database>, group: Pending<Q>[]): Promise<void> {
    const raw = this.raw();
    const q = this.queries(conn);
    const single = group.length === 1;
    const results: { ok: boolean; value: unknown }[] = [];
    raw.exec('begin immediate');
    try {
      for (const p of group) {
        if (!single) raw.exec('savepoint member');
        try {
          results.push({ ok: true, value: await p.fn(q) });
          if (!single) raw.exec('release member');
        } catch (err) {
          if (single) throw err;
          raw.exec('rollback to member');
          raw.exec('release member');
          results.push({ ok: false, value: err });
        }
      }
      raw.exec('commit');
    } catch (err) {
      if (raw.conn.inTransaction) raw.exec('rollback');
      throw err;
    }
    group.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.value);
      else p.reject(r.value);
    });
  }
}
