/**
 * Runs an external program for a test with an argument array (never a shell), a timeout that kills it,
 * and its stderr kept for the error message.
 */
import { execFile } from 'node:child_process';

/** Options for {@link run}. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the program (SIGKILL) after this long. Default 60 000 ms. */
  timeoutMs?: number;
}

/** Output of a finished program. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs `command args...` to completion; rejects with its exit status and stderr tail if it fails. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          const tail = stderr.trim().split('\n').slice(-15).join('\n');
          reject(new Error(`${command} ${args.join(' ')} failed: ${error.message.split('\n')[0]}\n${tail}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}
