// SVT-AV1 1.4 gives its threads real-time priority (SCHED_FIFO 99) when it runs
// as root, which starves the worker's heartbeats and everything else on the host.
// ffmpeg started through `run` must keep every thread at normal priority.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { run } from '../../src/media/ffmpeg.js';
import { samplePolicies } from '../helpers/thread-policies.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

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
  const out = path.join(dir.path, 'out.mkv');
  const args = ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=8'];
  const sampled = await samplePolicies(
    run('ffmpeg', [...args, '-c:v', 'libsvtav1', '-preset', '8', '-y', out]),
  );
  assert.ok(sampled.length > 0, "ffmpeg's encoder threads were sampled");
  const realTime = sampled.flat().filter((p) => p !== 0);
  assert.deepEqual(realTime, [], 'every ffmpeg thread runs at normal priority (policy 0)');
});
