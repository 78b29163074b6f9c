// Runs the WAL checkpoints of the store's database on a worker thread. A checkpoint
// copies the WAL into the database and waits for the disk twice (fsync); run by the
// store's connection after a commit (SQLite's automatic checkpoint) it stalls the
// event loop, and with it every call, for tens of milliseconds. The thread
// checkpoints a few times a second instead; the connection's automatic checkpoint
// stays, at a larger WAL, as the safety net should the thread stop.
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/** How often the thread checkpoints. */
const INTERVAL_MS = 100;
/** SQLite's default automatic checkpoint (WAL pages), used while no thread runs. */
const AUTO_PAGES = 1000;
/** The automatic checkpoint while the thread runs: only a WAL it let grow this far. */
const SAFETY_NET_PAGES = 10_000;

export class Checkpointer {
  private readonly thread: Worker;
  /** Resolves when the thread has exited, whether stopped or failed. */
  private readonly exited: Promise<unknown>;
  private stopped = false;

  constructor(conn: SqliteDatabase.Database, file: string) {
    this.thread = new Worker(new URL('./checkpoint-thread.js', import.meta.url), {
      workerData: { file, intervalMs: INTERVAL_MS },
    });
    this.exited = new Promise((resolve) => this.thread.once('exit', resolve));
    // The running thread never keeps the process alive.
    this.thread.unref();
    this.thread.on('message', (m) => {
      if (m === 'ready' && !this.stopped) conn.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
    });
    const fallBack = () => {
      if (conn.open) conn.pragma(`wal_autocheckpoint = ${AUTO_PAGES}`);
    };
    // A thread that fails leaves the checkpoints to the connection, as without it.
    this.thread.on('error', fallBack);
    this.thread.on('exit', fallBack);
  }

  /** Stops the thread (before the store's connection closes). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Until it exits the thread must keep the process alive: an unref'd thread would let the
    // process end here, with the caller's close() never resolving.
    this.thread.ref();
    this.thread.postMessage('stop');
    await this.exited;
  }
}
