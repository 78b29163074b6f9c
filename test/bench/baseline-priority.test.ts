// The benchmarks' baseline ffmpeg commands (bench/lib.ts runMeasuredFfmpeg) run as
// avspl1t's workers run ffmpeg: as root, SVT-AV1 would otherwise give its threads
// real-time priority, and the baseline would take the cores from every other
// process (avspl1t's own encoders run at normal priority).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { runMeasuredFfmpeg } from '../../bench/lib.js';
import { samplePolicies } from '../helpers/thread-policies.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-baseline-priority-');
});
after(async () => {
  await dir.cleanup();
});

it('a baseline ffmpeg runs no thread at real-time priority, also as root', {
  skip: process.platform !== 'linux' && 'reads /proc',
}, async () => {
  const out = path.join(dir.path, 'out.mkv');
  const args = ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=8'];
  const sampled = await samplePolicies(
    runMeasuredFfmpeg([...args, '-c:v', 'libsvtav1', '-preset', '8', '-y', out]),
  );
  assert.ok(sampled.length > 0, "ffmpeg's encoder threads were sampled");
  const realTime = sampled.flat().filter((p) => p !== 0);
  assert.deepEqual(realTime, [], 'every ffmpeg thread runs at normal priority (policy 0)');
});
