// Cancelling a job kills the real ffmpeg of its running encode: the worker hears
// of the cancel from its next heartbeat, aborts the operation, and the ffmpeg
// process (found as a child of this process in /proc) is gone within seconds.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { Worker } from '../../src/worker/index.js';
import { startTestCoordinator, waitForJob } from '../coordinator/harness.js';
import { CLIPS, makeClip } from '../helpers/clips.js';

/** The pids of ffmpeg processes whose parent is this process, with their command lines. */
async function ffmpegChildren(): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmd = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0');
      if (path.basename(cmd[0] ?? '') === 'ffmpeg') found.set(Number(name), cmd.join(' '));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

const alive = async (pid: number) =>
  readFile(`/proc/${pid}/stat`, 'utf8').then(
    (s) => !/^\d+ \(.*\) Z/.test(s), // a zombie has exited
    () => false,
  );

test('cancelling a job kills the ffmpeg of its running encode', { timeout: 120_000 }, async () => {
  const t = await startTestCoordinator({ leaseMs: 1500 });
  const clip = await makeClip(t.dir.path, CLIPS.oddSize);
  const worker = await Worker.start({
    coordinator: t.address,
    tmpRoot: path.join(t.dir.path, 'tmp'),
    heartbeatMs: 200,
    pollWaitMs: 500,
  });
  try {
    // libaom at its slowest preset: one 3 s encode runs for far longer than the test waits.
    const { jobId } = await t.client.submitJob({
      job: {
        input: fileAt(clip),
        working: folderAt(path.join(t.dir.path, 'work')),
        output: folderAt(path.join(t.dir.path, 'out')),
        secondsPerSegment: 10,
        settings: { encoder: 'aom', crf: 30, preset: 0 },
      },
    });
    let pid: number | undefined;
    for (let i = 0; i < 600 && pid === undefined; i++) {
      for (const [p, cmd] of await ffmpegChildren()) if (cmd.includes('libaom-av1')) pid = p;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(pid, 'the encode started its ffmpeg');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await alive(pid), true, 'still encoding before the cancel');

    await t.client.cancelJob({ jobId });
    const cancelledAt = Date.now();
    while ((await alive(pid)) && Date.now() - cancelledAt < 10_000)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(await alive(pid), false, `ffmpeg ${pid} still running 10 s after the cancel`);
    const job = await waitForJob(t.client, jobId);
    assert.equal(job.state, JobState.CANCELLED);
    assert.deepEqual([...(await ffmpegChildren()).keys()], [], 'no ffmpeg left');
  } finally {
    await worker.stop({ giveBack: true });
    await t.close();
  }
});
