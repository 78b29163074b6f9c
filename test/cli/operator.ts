// Helpers for the operator tests (test/cli/*): a coordinator process on a
// SQLite file, a job submitted by the CLI, the database read while it runs, the
// child processes of a pid (from /proc), and polling until something holds.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { cli, type ProcessOptions, startProgram } from './processes.js';

/** Reads the coordinator's database (WAL lets us read while it runs). */
export function query<T>(db: string, sql: string, ...params: unknown[]): T[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}

/** Starts a coordinator on `db` (any free port, or `listen`); resolves once it prints its address. */
export async function startCoordinator(db: string, extra: string[] = [], options: ProcessOptions = {}) {
  const coordinator = startProgram(['coordinator', '--listen', '127.0.0.1:0', '--db', db, ...extra], options);
  const address = await coordinator.firstLine();
  return { coordinator, address, db };
}

/** Submits `input` with fast settings (`extra` may override); resolves to the job id and output folder. */
export async function submit(address: string, input: string, base: string, extra: string[] = []) {
  const out = `${base}-out`;
  const r = await cli([
    'submit',
    '--coordinator',
    address,
    '--input',
    input,
    '--working-dir',
    `${base}-work`,
    '--output-dir',
    out,
    '--seconds-per-segment',
    '1',
    '--preset',
    '12',
    '--crf',
    '35',
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { jobId: r.stdout.trim(), out };
}

/**
 * Submits `input` through the API, as a client that cannot read the file would:
 * for inputs `submit` itself refuses (not a video), to see what a worker says.
 */
export async function submitUnchecked(
  address: string,
  input: string,
  base: string,
): Promise<{ jobId: string }> {
  const handle = connectCoordinator(address);
  try {
    return await handle.client.submitJob({
      job: {
        input: fileAt(input),
        working: folderAt(`${base}-work`),
        output: folderAt(`${base}-out`),
        secondsPerSegment: 1,
      },
    });
  } finally {
    handle.close();
  }
}

/** Processes whose parent is `pid`, with their command names. */
export function childrenOf(pid: number): { pid: number; comm: string }[] {
  const found: { pid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so parse from the last ')'.
      const stat = readFileSync(path.join('/proc', name, 'stat'), 'utf8');
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) found.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Whether a process with this pid exists (zombies included: they have not been reaped). */
export function exists(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it returns a value (not undefined/false), or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
