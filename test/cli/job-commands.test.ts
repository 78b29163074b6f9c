// Commands people reach for: job ids by unique prefix, --json on submit, jobs
// and wait, submit --wait, retry of a failed job, and the worker of each running
// task in `status`. Real coordinator, worker and CLI processes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startCoordinator, submit, submitUnchecked } from './operator.js';
import { cli, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-commands-');
  clip = await makeClip(dir.path, CLIPS.short);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

describe('job commands', { concurrency: 1 }, () => {
  it('ids by unique prefix, --json on submit, jobs and wait, and submit --wait', async () => {
    const { address } = await startCoordinator(path.join(dir.path, 'json.sqlite'));
    const base = path.join(dir.path, 'json');
    const submitted = await cli([
      'submit',
      '--coordinator',
      address,
      '--input',
      clip,
      '--working-dir',
      `${base}-work`,
      '--output-dir',
      `${base}-out`,
      '--preset',
      '12',
      '--json',
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const { jobId } = JSON.parse(submitted.stdout) as { jobId: string };
    const listed = await cli(['jobs', '--coordinator', address, '--json']);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { id: string }[]).map((j) => j.id),
      [jobId],
    );

    startWorker(address, path.join(dir.path, 'tmp'));
    const waited = await cli(['wait', jobId.slice(0, 6), '--coordinator', address, '--json']);
    assert.equal(waited.code, 0, waited.stderr);
    const job = JSON.parse(waited.stdout) as { id: string; state: string; manifest: unknown };
    assert.equal(job.id, jobId);
    assert.equal(job.state, 'JOB_STATE_SUCCEEDED');

    const status = await cli(['status', jobId.slice(0, 8), '--coordinator', address]);
    assert.match(status.stdout, new RegExp(`^job\\s+${jobId}$`, 'm'));

    const again = await cli([
      'submit',
      '--coordinator',
      address,
      '--input',
      clip,
      '--working-dir',
      `${base}2-work`,
      '--output-dir',
      `${base}2-out`,
      '--preset',
      '12',
      '--wait',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), path.join(`${base}2-out`, 'master.m3u8'));
    assert.match(again.stderr, /job \S+ succeeded/);

    const missing = await cli(['status', 'ffffffff', '--coordinator', address]);
    assert.match(missing.stderr.trim(), /^error: job ffffffff not found$/);
  });

  it('retry submits a failed job again; status shows the worker of each running task', async () => {
    const { address } = await startCoordinator(path.join(dir.path, 'retry.sqlite'));
    const base = path.join(dir.path, 'retry');
    // Bad settings for the input are caught by the split: the job fails without a worker's fault.
    const notVideo = path.join(dir.path, 'not-video.mp4');
    await import('node:fs/promises').then((fs) => fs.writeFile(notVideo, 'not a video'));
    // Through the API: `submit` itself refuses a local file that is not a video.
    const { jobId } = await submitUnchecked(address, notVideo, base);
    startWorker(address, path.join(dir.path, 'tmp-retry'), { id: 'w-retry' });
    assert.equal((await cli(['wait', jobId, '--coordinator', address])).code, 1);
    const failed = await cli(['status', jobId, '--coordinator', address]);
    assert.match(failed.stdout, /^failed\s+split: failed after 1 attempt/m, failed.stdout);

    const refused = await cli([
      'retry',
      (await submit(address, clip, `${base}-ok`)).jobId,
      '--coordinator',
      address,
    ]);
    assert.match(refused.stderr, /only a failed or cancelled job can be retried/);

    const retried = await cli(['retry', jobId, '--coordinator', address]);
    assert.equal(retried.code, 0, retried.stderr);
    const newId = retried.stdout.trim();
    assert.notEqual(newId, jobId);
    const status = await cli(['status', newId, '--coordinator', address, '--json']);
    const job = JSON.parse(status.stdout) as { details: { mediaFolder?: string } };
    const old = JSON.parse((await cli(['status', jobId, '--coordinator', address, '--json'])).stdout);
    // The retry takes over the failed job's output folder, writing its media in a sub-folder of its own.
    assert.equal(job.details.mediaFolder, newId);
    assert.deepEqual(
      { ...job.details, mediaFolder: undefined },
      { ...old.details, mediaFolder: undefined },
      'same input, folders and settings',
    );
    // The folder is the retry's now: retrying the old job again would take it from a newer job.
    const again = await cli(['retry', jobId, '--coordinator', address]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, new RegExp(`is the output of job ${newId}`));

    // A running task names its worker.
    const slow = await submit(address, await makeClip(dir.path, CLIPS.ntscLongGop), `${base}-slow`, [
      '--seconds-per-segment',
      '5',
      '--preset',
      '4',
    ]);
    let seen = '';
    for (let i = 0; i < 200 && !/running\s+encode \d+ on worker w-retry/.test(seen); i++) {
      seen = (await cli(['status', slow.jobId, '--coordinator', address])).stdout;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(seen, /running\s+encode \d+ on worker w-retry/);
  });
});
