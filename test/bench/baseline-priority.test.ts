// The benchmarks' baseline ffmpeg commands (bench/lib.ts runMeasuredFfmpeg) run as
// avspl1t's workers run ffmpeg: as root, SVT-AV1 would otherwise give its threads
// real-time priority, and the baseline would take the cores from every other
// process (avspl1t's own encoders run at normal priority).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { runMeasuredFfmpeg } from '../../bench/lib.js';
import { samplePolicies } from '../helpers/thread-policies.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

/** The scheduling policy SVT-AV1 gives its threads as root (sched.h). */
const SCHED_FIFO = 1;

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-baseline-priority-');
});
after(async () => {
  await dir.cleanup();
});

const args = (out: string, seconds: number) => [
  ...['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=s=640x360:r=30:d=${seconds}`],
  ...['-c:v', 'libsvtav1', '-preset', '8', '-y', out],
];

const notRoot =
  process.platform !== 'linux'
    ? 'reads /proc'
    : process.getuid?.() !== 0 &&
      'not root: no ffmpeg thread gets real-time priority, so nothing to tell apart';

it('a baseline ffmpeg runs no thread at real-time priority as root, where a plain ffmpeg does', {
  skip: notRoot,
}, async () => {
  // The control: the same encoder, spawned directly, does take real-time threads,
  // so the assertion below can fail.
  const plain = spawn('ffmpeg', args(path.join(dir.path, 'plain.mkv'), 3), { stdio: 'ignore' });
  const exited = once(plain, 'exit');
  const control = (await samplePolicies(exited)).flat();
  assert.ok(control.length > 0, "the plain ffmpeg's encoder threads were sampled");
  assert.ok(
    control.includes(SCHED_FIFO),
    `a plain ffmpeg run as root has SCHED_FIFO threads (policies seen: ${[...new Set(control)]})`,
  );
  const sampled = await samplePolicies(runMeasuredFfmpeg(args(path.join(dir.path, 'out.mkv'), 8)));
  assert.ok(sampled.length > 0, "ffmpeg's encoder threads were sampled");
  const realTime = sampled.flat().filter((p) => p !== 0);
  assert.deepEqual(realTime, [], 'every ffmpeg thread runs at normal priority (policy 0)');
});
