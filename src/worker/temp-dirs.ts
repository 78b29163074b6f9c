// Private scratch directories for tasks: `task-<pid>-<random>` under one root.
// The pid in the name lets a starting worker remove what dead workers left
// behind (SIGKILL, power loss) without touching live workers' directories.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

const PATTERN = /^task-(\d+)-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates a fresh task directory under `root`. */
export async function makeTaskDir(root: string): Promise<string> {
  await mkdir(root, { recursive: true });
  return mkdtemp(path.join(root, `task-${process.pid}-`));
}

/** Removes a task directory and everything in it. */
export async function removeTaskDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
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
