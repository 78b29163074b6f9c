// `avspl1t wait` as an operator watches it: it says why nothing happens (no
// worker, coordinator unreachable), keeps waiting through a coordinator restart,
// and gives up with its own exit code. Real coordinator, worker and CLI processes.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startCoordinator, submit, waitFor } from './operator.js';
import { cli, startProgram, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-wait-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

describe('avspl1t wait', { concurrency: 1 }, () => {
  it('says a job is queued with no worker taking it, then follows it to success once a worker starts', async () => {
    const { address } = await startCoordinator(path.join(dir.path, 'queued.sqlite'));
    const { jobId } = await submit(address, clip, path.join(dir.path, 'queued'));
    const wait = startProgram(['wait', jobId, '--coordinator', address]);
    await waitFor(
      'the queued note',
      () => /queued — no worker has taken a task of this job for \d+ s/.test(wait.output().stderr),
      20_000,
    );
    startWorker(address, path.join(dir.path, 'tmp'));
    assert.equal(await wait.exited, 0, wait.output().stderr);
  });

  it('keeps waiting through a coordinator restart, saying the coordinator is unreachable', async () => {
    const db = path.join(dir.path, 'restart.sqlite');
    const first = await startCoordinator(db);
    const { jobId } = await submit(first.address, clip, path.join(dir.path, 'restart'));
    const wait = startProgram(['wait', jobId, '--coordinator', first.address]);
    // No worker yet, so the job cannot end before the kill: killed while the stream is open.
    await waitFor(
      'the queued note',
      () => /queued — no worker has taken a task of this job/.test(wait.output().stderr),
      20_000,
    );
    first.coordinator.child.kill('SIGKILL');
    await waitFor(
      'the unreachable note',
      () => /coordinator unreachable, retrying \(Ctrl-C to stop waiting\)/.test(wait.output().stderr),
      20_000,
    );
    await new Promise((r) => setTimeout(r, 3000));
    await startCoordinator(db, ['--listen', first.address]);
    const worker = startWorker(first.address, path.join(dir.path, 'tmp'));
    assert.equal(await wait.exited, 0, `${wait.output().stderr}\n${worker.output().stderr}`);
    assert.match(wait.output().stdout, /master\.m3u8/);
  });

  it('on a ladder, shows each rung under the job bar and ends with every rung at the segment count of its playlist', async () => {
    const { address } = await startCoordinator(path.join(dir.path, 'rungs.sqlite'));
    const rungs = ['--rendition', 'av1:180:300', '--rendition', 'h264:160x90:200:30'];
    const { jobId, out } = await submit(address, clip, path.join(dir.path, 'rungs'), rungs);
    const wait = startProgram(['wait', jobId, '--coordinator', address]);
    startWorker(address, path.join(dir.path, 'tmp'));
    assert.equal(await wait.exited, 0, wait.output().stderr);
    const stderr = wait.output().stderr;
    const master = await readFile(path.join(out, 'master.m3u8'), 'utf8');
    const playlists = master.split('\n').filter((l) => /^[^#].*\.m3u8$/.test(l) && !l.includes('audio'));
    assert.equal(playlists.length, 2, master);
    for (const playlist of playlists) {
      const name = path.dirname(playlist);
      const segments = (await readFile(path.join(out, playlist), 'utf8')).split('#EXTINF').length - 1;
      assert.ok(segments >= 5, `${playlist}: ${segments} segments`);
      // The last lines drawn (the bar's final state) hold the rung at its count.
      const lines = stderr.trimEnd().split('\n').slice(-4);
      assert.ok(
        lines.some((l) => new RegExp(`^  ${name} +\\[\u2588+\\] ${segments}/${segments}$`).test(l)),
        `${name} at ${segments}/${segments} in:\n${stderr}`,
      );
    }
    assert.match(stderr, /encoding \[\u2588+\] (\d+)\/\1 segments \| 100%/);
  });

  it('gives up with exit code 3 when the coordinator stays unreachable', async () => {
    const r = await cli(['wait', 'some-job', '--coordinator', '127.0.0.1:1', '--give-up-after', '2'], 30_000);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /error: gave up waiting: the coordinator has been unreachable for 2 s/);
  });
});
