// Runs ffmpeg/ffprobe as child processes: argument arrays (never a shell), stderr
// kept for error messages, killed on abort and on timeout. Each runs in its own
// process group (a terminal's Ctrl-C is for the worker, not its ffmpeg) and, on
// Linux, dies with the worker even when the worker is SIGKILLed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { AppError, ErrorKind } from '../errors.js';
import { setLongTimeout } from '../timers.js';

export interface RunOptions {
  signal?: AbortSignal;
  /** Kill the process after this many milliseconds (a hung ffmpeg is a transient failure). */
  timeoutMs?: number;
  /** Called with each line ffmpeg writes to stderr (e.g. `-progress pipe:2`). */
  onLine?: (line: string) => void;
  /** Called with the program and its arguments just before it starts (debug logs). */
  onStart?: (cmd: string, args: readonly string[]) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const STDERR_KEEP = 64 * 1024;
/** ffmpeg's exit code after it caught SIGINT or SIGTERM and stopped early. */
const FFMPEG_SIGNALLED = 255;

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

/**
 * util-linux's `setpriv --pdeathsig KILL`, where installed: the kernel kills the
 * child when the worker dies, however it dies (Node cannot set PR_SET_PDEATHSIG).
 */
const pdeathsig = ['/usr/bin/setpriv', '/bin/setpriv'].find(
  (p) => process.platform === 'linux' && existsSync(p),
);

/** Whether this process holds a capability (bit `n` of CapEff in /proc/self/status). */
function hasCapability(n: number): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(n)) & 1n) === 1n;
  } catch {
    return false;
  }
}

const CAP_SETPCAP = 8;
const CAP_SYS_NICE = 23;
/**
 * SVT-AV1 gives its threads real-time priority (SCHED_FIFO 99) whenever it may,
 * that is when the worker runs as root: they then starve the worker's heartbeats
 * and everything else on the host. Where this process could allow that, the
 * child starts without CAP_SYS_NICE (SVT warns "Failed to set thread priority"
 * and runs its threads at normal priority).
 */
const withoutNice =
  pdeathsig && hasCapability(CAP_SYS_NICE) && hasCapability(CAP_SETPCAP)
    ? ['--bounding-set', '-sys_nice', '--inh-caps', '-sys_nice']
    : [];

/**
 * The command line that starts `cmd args...`, wrapped to die with this process
 * where possible, and never with real-time priority.
 */
export function childCommand(cmd: string, args: string[]): [string, string[]] {
  return pdeathsig ? [pdeathsig, ['--pdeathsig', 'KILL', ...withoutNice, '--', cmd, ...args]] : [cmd, args];
}

/** setpriv's exit code when it cannot find the program to run. */
const EXEC_NOT_FOUND = 127;

/** Runs `cmd args...`; resolves with its output, rejects with an AppError whose kind says if a retry may help. */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const { signal, timeoutMs, onLine } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AppError(ErrorKind.Cancelled, 'cancelled'));
    options.onStart?.(cmd, args);
    const [file, argv] = childCommand(cmd, args);
    // Own process group: signals for the worker's terminal do not reach the child.
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: childEnv() });
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
      if (pdeathsig && code === EXEC_NOT_FOUND && /failed to execute/.test(err))
        return reject(new AppError(ErrorKind.Permanent, `${cmd} is not installed (not found on PATH)`));
      // Killed by a signal this process did not send (an operator, the OOM killer), or
      // ffmpeg's own exit on SIGINT/SIGTERM (255): the machine's doing, not the input's.
      if (sig) return reject(new AppError(ErrorKind.Transient, `${cmd} was killed by ${sig}`));
      if (code === FFMPEG_SIGNALLED)
        return reject(new AppError(ErrorKind.Transient, `${cmd} was stopped by a signal: ${lastLines(err)}`));
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
