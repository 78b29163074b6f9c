// Faults survived: transient storage failures are retried with the attempts
// visible in GetJob, a coordinator SIGKILLed mid-job and restarted on the same
// SQLite file finishes the job with each segment once in the playlist.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startCoordinator } from '../../src/coordinator/index.js';
import { type Job, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type CoordinatorClient, connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { Worker } from '../../src/worker/index.js';
import { startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { FlakyUploadStorage } from './fault-storage.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-faults-');
  clip = await makeClip(dir.path, CLIPS.short);
});
after(async () => {
  await stopAll();
  await dir?.cleanup();
});

function job(name: string) {
  return {
    input: fileAt(clip),
    working: folderAt(path.join(dir.path, `${name}-work`)),
    output: folderAt(path.join(dir.path, `${name}-out`)),
    secondsPerSegment: 0.5,
    settings: { encoder: 'svt', crf: 35, preset: 12 },
  };
}

async function waitDone(client: CoordinatorClient, jobId: string, timeoutMs = 240_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await client.getJob({ jobId }).then(
      (r) => r.job,
      () => undefined, // the coordinator may be restarting
    );
    if (got && got.state !== JobState.QUEUED && got.state !== JobState.RUNNING) return got;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The segment URIs of the media playlist, in order. */
async function segments(out: string): Promise<string[]> {
  const text = await readFile(path.join(out, 'video.m3u8'), 'utf8');
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** ceil(duration / secondsPerSegment), the duration from ffprobe's decoded frame count and rate. */
async function expectedSegments(source: string, secondsPerSegment: number): Promise<number> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-count_frames'],
    ...['-show_entries', 'stream=nb_read_frames,r_frame_rate', '-of', 'json', source],
  ]);
  const stream = JSON.parse(stdout).streams[0] as { nb_read_frames: string; r_frame_rate: string };
  const [num, den] = stream.r_frame_rate.split('/').map(Number) as [number, number];
  const seconds = (Number(stream.nb_read_frames) * den) / num;
  return Math.ceil(seconds / secondsPerSegment - 1e-9);
}

test('transient storage failures are retried and the job completes, attempts visible in GetJob', async () => {
  const running = await startCoordinator({
    listen: '127.0.0.1:0',
    db: path.join(dir.path, 'flaky.sqlite'),
    maxAttempts: 5,
    backoffBaseMs: 50,
    backoffMaxMs: 200,
  });
  const storage = new FlakyUploadStorage(3);
  const worker = await Worker.start({
    coordinator: running.address,
    storage,
    tmpRoot: path.join(dir.path, 'tmp-flaky'),
    pollWaitMs: 500,
  });
  const h = connectCoordinator(running.address);
  try {
    const { jobId } = await h.client.submitJob({ job: job('flaky') });
    const done = await waitDone(h.client, jobId);
    assert.equal(done.state, JobState.SUCCEEDED, done.failureReason);
    assert.equal(storage.injected, 3);
    const retried = done.tasks.filter((t) => t.attempts > 1);
    assert.ok(retried.length > 0, `retried tasks listed: ${JSON.stringify(done.tasks)}`);
    assert.ok(
      retried.some((t) => /injected storage fault/.test(t.lastError)),
      'last error kept',
    );
    const segs = await segments(path.join(dir.path, 'flaky-out'));
    assert.equal(new Set(segs).size, segs.length, 'each segment once');
  } finally {
    h.close();
    await worker.stop({ giveBack: true });
    await running.close();
  }
});

test('a coordinator SIGKILLed mid-job and restarted on the same SQLite file finishes the job', async () => {
  const db = path.join(dir.path, 'restart.sqlite');
  const first = startProgram(['coordinator', '--listen', '127.0.0.1:0', '--db', db, '--log-level', 'warn']);
  const address = await first.firstLine();
  const worker = startWorker(address, path.join(dir.path, 'tmp-restart'));
  const h = connectCoordinator(address);
  try {
    const { jobId } = await h.client.submitJob({ job: job('restart') });
    // Kill it once the job is running (the split has been claimed); not before.
    const runningBy = Date.now() + 60_000;
    for (;;) {
      const { job: got } = await h.client.getJob({ jobId });
      if (got && got.state !== JobState.QUEUED) break;
      assert.ok(Date.now() < runningBy, 'the job never started running');
      await new Promise((r) => setTimeout(r, 50));
    }
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((r) => setTimeout(r, 500));
    const second = startProgram(['coordinator', '--listen', address, '--db', db, '--log-level', 'warn']);
    assert.equal(await second.firstLine(), address);
    const done = await waitDone(h.client, jobId);
    assert.equal(done.state, JobState.SUCCEEDED, done.failureReason);
    const segs = await segments(path.join(dir.path, 'restart-out'));
    // One segment per started 0.5 s of the source, counted by ffprobe (36 frames at 30/s: 3).
    assert.equal(segs.length, await expectedSegments(clip, 0.5), `segments: ${segs}`);
    assert.equal(new Set(segs).size, segs.length, 'each segment exactly once');
  } finally {
    h.close();
    worker.child.kill('SIGKILL');
  }
});
