// SVT-AV1 1.4 gives its threads real-time priority (SCHED_FIFO 99) when it runs
// as root, which starves the worker's heartbeats and everything else on the host.
// ffmpeg started through `run` must keep every thread at normal priority.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { run } from '../../src/media/ffmpeg.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

/** Scheduling policy of every thread of `pid` (field 41 of /proc/PID/task/TID/stat: 0 normal, 1 FIFO, 2 RR). */
function threadPolicies(pid: number): number[] {
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
function ourFfmpegs(): number[] {
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

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-priority-');
});
after(async () => {
  await dir.cleanup();
});

it('libsvtav1 started by the worker runs no thread at real-time priority, also as root', {
  skip: process.platform !== 'linux' && 'reads /proc',
}, async () => {
  const seen: number[][] = [];
  const out = path.join(dir.path, 'out.mkv');
  const args = ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=8'];
  const done = run('ffmpeg', [...args, '-c:v', 'libsvtav1', '-preset', '8', '-y', out]);
  const sampling = setInterval(() => {
    for (const pid of ourFfmpegs()) seen.push(threadPolicies(pid));
  }, 100);
  try {
    await done;
  } finally {
    clearInterval(sampling);
  }
  const sampled = seen.filter((s) => s.length > 4);
  assert.ok(sampled.length > 0, `ffmpeg's encoder threads were sampled (${seen.length} samples)`);
  const realTime = sampled.flat().filter((p) => p !== 0);
  assert.deepEqual(realTime, [], 'every ffmpeg thread runs at normal priority (policy 0)');
});
