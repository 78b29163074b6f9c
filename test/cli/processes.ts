/**
 * The CLI as separate OS processes for end-to-end tests: long-running programs
 * (coordinator, workers) with their output kept, and one-shot client commands.
 * Every process started here is killed by stopAll().
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/avspl1t.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * How to start a CLI process: its environment, its user, its working directory,
 * or (`detached`) its own process group as a terminal's job.
 */
export type ProcessOptions = Pick<SpawnOptions, 'env' | 'uid' | 'gid' | 'detached' | 'cwd'>;

/** Runs one CLI command to completion. */
export function cli(args: string[], timeoutMs = 120_000, options: ProcessOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, ...options }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export interface Program {
  child: ChildProcess;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the first stdout line (the coordinator prints its address). */
  firstLine(): Promise<string>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

const started = new Set<ChildProcess>();

/** Starts a long-running CLI command. */
export function startProgram(args: string[], options: ProcessOptions = {}): Program {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      started.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  return {
    child,
    output: () => ({ stdout, stderr }),
    exited,
    firstLine: () =>
      new Promise((resolve, reject) => {
        const check = () => {
          const nl = stdout.indexOf('\n');
          if (nl >= 0) {
            child.stdout!.off('data', check);
            resolve(stdout.slice(0, nl));
          }
        };
        child.stdout!.on('data', check);
        check();
        void exited.then((code) => reject(new Error(`exited (${code}) before printing: ${stderr}`)));
      }),
  };
}

/** Kills every program still running. */
/** A worker process for `address`, its task temp dirs under `tmpDir`. */
export function startWorker(
  address: string,
  tmpDir: string,
  o: { id?: string; logLevel?: string } & ProcessOptions = {},
): Program {
  const { id: _id, logLevel: _level, ...options } = o;
  return startProgram(
    [
      'worker',
      '--coordinator',
      address,
      ...(o.id ? ['--id', o.id] : []),
      '--tmp-dir',
      tmpDir,
      '--log-level',
      o.logLevel ?? 'warn',
    ],
    options,
  );
}

export async function stopAll(): Promise<void> {
  await Promise.all(
    [...started].map(
      (c) =>
        new Promise<void>((resolve) => {
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
}

/**
 * Writes `script`, a stand-in for ffmpeg (give it to a worker as AVSPL1T_FFMPEG)
 * that waits until the file `go` exists, then runs the real one: a test holds
 * a worker's task at its start for as long as it needs.
 */
export async function gatedFfmpeg(script: string, go: string): Promise<string> {
  await writeFile(script, `#!/bin/sh\nwhile [ ! -e '${go}' ]; do sleep 0.05; done\nexec ffmpeg "$@"\n`, {
    mode: 0o755,
  });
  return script;
}
