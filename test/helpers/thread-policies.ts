// Scheduling policies of the ffmpeg processes a test started: SVT-AV1 1.4 gives
// its threads real-time priority (SCHED_FIFO 99) when it runs as root.
import { readdirSync, readFileSync } from 'node:fs';

/** Scheduling policy of every thread of `pid` (field 41 of /proc/PID/task/TID/stat: 0 normal, 1 FIFO, 2 RR). */
export function threadPolicies(pid: number): number[] {
  const policies: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      policies.push(Number(fields[41 - 3]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return policies;
}

/** The ffmpeg processes this test process started (setpriv execs ffmpeg, so it keeps the pid). */
export function ourFfmpegs(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'ffmpeg' && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

/**
 * Samples the thread policies of this process's ffmpeg children every 100 ms until
 * `done` settles; returns the samples of processes past start-up (more than 4
 * threads: the encoder's are running).
 */
export async function samplePolicies(done: Promise<unknown>): Promise<number[][]> {
  const seen: number[][] = [];
  const sampling = setInterval(() => {
    for (const pid of ourFfmpegs()) seen.push(threadPolicies(pid));
  }, 100);
  try {
    await done;
  } finally {
    clearInterval(sampling);
  }
  return seen.filter((s) => s.length > 4);
}
