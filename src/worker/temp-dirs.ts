// Private scratch directories for tasks: `task-<pid>-<random>` under one root.
// The pid in the name lets a starting worker remove what dead workers left
// behind (SIGKILL, power loss) without touching live workers' directories.
// The default root is per user: workers of several users share a machine.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppError, ErrorKind } from '../errors.js';

const PATTERN = /^task-(\d+)-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The default root: `avspl1t-worker-<uid>` in the OS temp dir, one per user. */
export function defaultTmpRoot(): string {
  const user = process.getuid?.() ?? os.userInfo().username;
  return path.join(os.tmpdir(), `avspl1t-worker-${user}`);
}

/** Creates a fresh task directory under `root` (created private to this user if missing). */
export async function makeTaskDir(root: string): Promise<string> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  return mkdtemp(path.join(root, `task-${process.pid}-`));
}

/** Checks that task directories can be made under `root`; else an error naming it and the way out. */
export async function checkTmpRoot(root: string): Promise<void> {
  try {
    await removeTaskDir(await makeTaskDir(root));
  } catch (err) {
    const e = AppError.from(err);
    throw new AppError(
      e.kind === ErrorKind.Internal ? ErrorKind.AccessDenied : e.kind,
      `cannot use the temp dir ${root}: ${e.message} (choose another with --tmp-dir)`,
      { cause: err },
    );
  }
}

/** Removes a task directory and everything in it. */
export async function removeTaskDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Task directories this worker could not remove (its temp dir read-only, say),
 * kept to try again between tasks and at shutdown: a live worker's folders are
 * not removed by anyone else until it exits.
 */
export class LeftoverDirs {
  private readonly dirs = new Set<string>();

  /** Remembers `dir` for a later try. */
  add(dir: string): void {
    this.dirs.add(dir);
  }

  /** The directories still to remove. */
  get remaining(): string[] {
    return [...this.dirs];
  }

  /** Tries to remove every remembered directory; those that still fail stay remembered. */
  async removeAll(): Promise<void> {
    for (const dir of this.dirs) {
      try {
        await removeTaskDir(dir);
        this.dirs.delete(dir);
      } catch {
        // Still not removable: the next try, or the next worker start, gets it.
      }
    }
  }
}

/** Removes task directories of processes that no longer run; returns their paths. */
export async function removeStaleTaskDirs(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = PATTERN.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const dir = path.join(root, name);
    await removeTaskDir(dir);
    removed.push(dir);
  }
  return removed;
}
