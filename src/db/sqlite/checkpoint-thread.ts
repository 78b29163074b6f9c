// The body of the WAL checkpoint thread (see checkpointer.ts): its own connection
// to the database file copies committed pages from the WAL into the database every
// `intervalMs`. PASSIVE never waits for, or blocks, the store's readers and writers.
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const conn = new SqliteDatabase(file, { timeout: 0, fileMustExist: true });
// This connection never writes, so it never checkpoints by itself either.
conn.pragma('wal_autocheckpoint = 0');
parentPort!.postMessage('ready');

const timer = setInterval(() => {
  try {
    conn.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another checkpoint ran, e.g. the store's own): the next tick tries again.
  }
}, intervalMs);

parentPort!.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  conn.close();
  parentPort!.close();
});
