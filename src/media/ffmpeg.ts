// Runs ffmpeg/ffprobe as child processes: argument arrays (never a shell), stderr
// kept for error messages, killed on abort and on timeout.
import { spawn } from 'node:child_process';
import { AppError, ErrorKind } from '../errors.js';
import { setLongTimeout } from '../timers.js';

export interface RunOptions {
  signal?: AbortSignal;
  /** Kill the process after this many milliseconds (a hung ffmpeg is a transient failure). */
  timeoutMs?: number;
  /** Called with each line ffmpeg writes to stderr (e.g. `-progress pipe:2`). */
  onLine?: (line: string) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const STDERR_KEEP = 64 * 1024;

/** The binaries used; overridable for tests that stand in a crashing or hanging ffmpeg. */
export const binaries = {
  ffmpeg: process.env.AVSPL1T_FFMPEG || 'ffmpeg',
  ffprobe: process.env.AVSPL1T_FFPROBE || 'ffprobe',
};

/**
 * Variables a child program never sees: avspl1t's own (worker and client tokens
 * among them) and AWS's (keys; ffmpeg reads local files and pipes only, the
 * workers' storage code fetches from S3).
 */
const WITHHELD = /^(AVSPL1T_|AWS_)/i;

/** `env` without avspl1t's and AWS's variables: the environment for ffmpeg and ffprobe. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !WITHHELD.test(name)));
}

/** Runs `cmd args...`; resolves with its output, rejects with an AppError whose kind says if a retry may help. */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const { signal, timeoutMs, onLine } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AppError(ErrorKind.Cancelled, 'cancelled'));
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    const out: Buffer[] = [];
    let err = '';
    let partial = '';
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      err = (err + s).slice(-STDERR_KEEP);
      if (onLine) {
        partial += s;
        const lines = partial.split(/\r?\n|\r/);
        partial = lines.pop() ?? '';
        for (const l of lines) onLine(l);
      }
    });
    const kill = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', kill, { once: true });
    const timer =
      timeoutMs && timeoutMs > 0
        ? setLongTimeout(() => {
            timedOut = true;
            kill();
          }, timeoutMs)
        : undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        e.code === 'ENOENT'
          ? new AppError(ErrorKind.Permanent, `${cmd} is not installed (not found on PATH)`, { cause: e })
          : AppError.from(e, ErrorKind.Transient),
      );
    });
    child.on('close', (code, sig) => {
      cleanup();
      if (code === 0) return resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: err });
      if (signal?.aborted) return reject(new AppError(ErrorKind.Cancelled, 'cancelled'));
      if (timedOut)
        return reject(
          new AppError(
            ErrorKind.Transient,
            `${cmd} timed out after ${Math.round(timeoutMs! / 1000)} s and was killed`,
          ),
        );
      if (sig) return reject(new AppError(ErrorKind.Transient, `${cmd} was killed by ${sig}`));
      reject(new AppError(ErrorKind.Permanent, `${cmd} failed: ${lastLines(err)}`));
    });
    function cleanup() {
      timer?.clear();
      signal?.removeEventListener('abort', kill);
    }
  });
}

/** The last meaningful stderr lines, for a one-line error message. */
export function lastLines(stderr: string, n = 3): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('Svt[') && !/^(frame|size)=/.test(l));
  return lines.slice(-n).join(' | ') || 'no error output';
}

/** Common leading ffmpeg arguments: quiet, no stdin, no overwrite prompts, local files only. */
export function ffmpegBase(): string[] {
  return ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-protocol_whitelist', 'file,pipe'];
}
