// SIGTERM twice to a worker gives its running task back: the worker's log says
// "given back", never a failure. Real coordinator, worker and ffmpeg processes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { childrenOf, query, startCoordinator, submit, waitFor } from './operator.js';
import { startWorker, stopAll } from './processes.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-give-back-');
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

it('SIGTERM twice: the running encode is logged as given back, not as a failure', async () => {
  const clip = await makeClip(dir.path, CLIPS.ntscLongGop);
  const { address, db } = await startCoordinator(path.join(dir.path, 'jobs.sqlite'));
  const worker = startWorker(address, path.join(dir.path, 'tmp'), { id: 'w1', logLevel: 'info' });
  // One encode of the whole clip at a slow preset: ffmpeg runs for seconds.
  await submit(address, clip, path.join(dir.path, 'job'), ['--seconds-per-segment', '5', '--preset', '4']);
  await waitFor('an encode running in ffmpeg', () => {
    const running = query(db, "SELECT id FROM tasks WHERE kind = 'encode' AND state = 'running'").length;
    return running > 0 && childrenOf(worker.child.pid!).some((c) => c.comm === 'ffmpeg');
  });
  worker.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0, worker.output().stderr);
  const lines = worker.output().stderr.trim().split('\n');
  const done = lines.filter((l) => /"taskId"/.test(l) && /"kind":"encode"/.test(l));
  assert.ok(
    done.some((l) => /given back/.test(l)),
    `a "given back" line for the encode:\n${lines.join('\n')}`,
  );
  assert.ok(!lines.some((l) => l.includes('"outcome":"failure"')), lines.join('\n'));
  const states = query<{ state: string }>(db, "SELECT state FROM tasks WHERE kind = 'encode'");
  assert.deepEqual(
    states.map((s) => s.state),
    ['queued'],
    'the encode is queued again for another worker',
  );
});
