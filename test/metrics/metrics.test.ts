// /metrics after a real job (coordinator and worker processes, real ffmpeg):
// the exposition parses as Prometheus text, and the counters match the job's
// tasks and runs as the database records them and its segments on disk.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { connectCoordinator } from '../../src/rpc/index.js';
import { query, startCoordinator, submit, submitUnchecked } from '../cli/operator.js';
import { cli, startProgram, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type Exposition, sampleValue, scrape } from '../helpers/prometheus-text.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-metrics-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/** `select <key>, count(*)` rows as a map. */
function counts(db: string, sql: string): Map<string, number> {
  return new Map(query<{ k: string; n: number }>(db, sql).map((r) => [r.k, r.n]));
}

describe('metrics', () => {
  it('after a job, the coordinator and worker counters match its tasks in the database and its segments on disk', async () => {
    const db = path.join(dir.path, 'job.sqlite');
    const { address } = await startCoordinator(db);
    const worker = startProgram([
      'worker',
      '--coordinator',
      address,
      '--metrics-listen',
      '127.0.0.1:0',
      '--tmp-dir',
      path.join(dir.path, 'tmp'),
      '--log-level',
      'warn',
    ]);
    const workerMetrics = /^metrics (\S+)$/.exec(await worker.firstLine())?.[1];
    assert.ok(workerMetrics);
    const { jobId, out } = await submit(address, clip, path.join(dir.path, 'job'));
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, waited.stderr);

    const c: Exposition = await scrape(`http://${address}/metrics`);
    const w: Exposition = await scrape(`http://${workerMetrics}/metrics`);
    assert.equal(c.types.get('avspl1t_tasks_handed_out_total'), 'counter');
    assert.equal(c.types.get('avspl1t_claim_duration_seconds'), 'histogram');
    assert.equal(c.types.get('avspl1t_jobs'), 'gauge');

    const tasks = counts(db, 'select kind as k, count(*) as n from tasks group by kind');
    const runs = counts(
      db,
      'select t.kind as k, count(*) as n from task_runs r join tasks t on t.id = r.task_id group by t.kind',
    );
    const succeeded = counts(
      db,
      `select t.kind as k, count(*) as n from task_runs r join tasks t on t.id = r.task_id where r.outcome = 'succeeded' group by t.kind`,
    );
    assert.deepEqual([...tasks.keys()].sort(), ['audio', 'encode', 'manifest', 'split']);
    let total = 0;
    for (const [kind, n] of tasks) {
      total += n;
      assert.equal(
        sampleValue(c, 'avspl1t_tasks_handed_out_total', { kind }),
        runs.get(kind),
        `${kind} handed out`,
      );
      assert.equal(
        sampleValue(c, 'avspl1t_tasks_finished_total', { kind }),
        succeeded.get(kind),
        `${kind} finished`,
      );
      assert.equal(sampleValue(c, 'avspl1t_tasks_failed_total', { kind }), 0);
      assert.equal(sampleValue(c, 'avspl1t_tasks_retried_total', { kind }), 0);
      assert.equal(
        sampleValue(w, 'avspl1t_worker_task_run_seconds_count', { kind, outcome: 'succeeded' }),
        n,
        `${kind} runs on the worker`,
      );
    }
    const handedOut = c.samples
      .filter((s) => s.name === 'avspl1t_tasks_handed_out_total')
      .reduce((sum, s) => sum + s.value, 0);
    const claimsWithTask = sampleValue(c, 'avspl1t_claim_duration_seconds_count', { result: 'task' });
    assert.ok(claimsWithTask >= 1 && claimsWithTask <= handedOut, `${claimsWithTask} claims of ${handedOut}`);
    assert.equal(sampleValue(c, 'avspl1t_finish_duration_seconds_count', { accepted: 'true' }), total);
    assert.equal(sampleValue(c, 'avspl1t_lease_expiries_total'), 0);
    assert.equal(sampleValue(c, 'avspl1t_jobs', { state: 'succeeded' }), 1);
    assert.equal(sampleValue(c, 'avspl1t_tasks', { state: 'succeeded' }), total);
    assert.equal(sampleValue(c, 'avspl1t_tasks', { state: 'queued' }), 0);
    assert.equal(sampleValue(c, 'avspl1t_workers_connected'), 1);
    const encodes = tasks.get('encode') ?? 0;
    assert.equal(
      sampleValue(c, 'avspl1t_encode_seconds_per_video_second_count', { encoder: 'svt', preset: '12' }),
      encodes,
    );
    assert.ok(
      sampleValue(c, 'avspl1t_encode_seconds_per_video_second_sum', { encoder: 'svt', preset: '12' }) > 0,
    );

    // The worker's bytes uploaded are the video segments' sizes on disk.
    const playlist = parseMediaPlaylist(await readFile(path.join(out, 'video.m3u8'), 'utf8'));
    let bytes = 0;
    for (const e of playlist.entries) bytes += (await stat(path.join(out, e.uri))).size;
    assert.ok(bytes > 0);
    assert.equal(sampleValue(w, 'avspl1t_worker_uploaded_bytes_total'), bytes);
    assert.equal(sampleValue(w, 'avspl1t_worker_encode_fps_count', { encoder: 'svt' }), encodes);
    assert.equal(sampleValue(w, 'avspl1t_worker_coordinator_connected'), 1);
    assert.equal(
      w.samples.filter((s) => s.name === 'avspl1t_worker_task_failures_total').length,
      0,
      'no failures',
    );
  });

  it('a job whose input is not a video counts one failed split on the coordinator and one failure on the worker', async () => {
    const db = path.join(dir.path, 'bad.sqlite');
    const text = path.join(dir.path, 'not-a-video.mp4');
    await writeFile(text, 'this is not a video\n'.repeat(50));
    const { address } = await startCoordinator(db);
    const worker = startProgram([
      'worker',
      '--coordinator',
      address,
      '--metrics-listen',
      '127.0.0.1:0',
      '--tmp-dir',
      path.join(dir.path, 'tmp-bad'),
      '--log-level',
      'error',
    ]);
    const workerMetrics = /^metrics (\S+)$/.exec(await worker.firstLine())?.[1];
    const { jobId } = await submitUnchecked(address, text, path.join(dir.path, 'bad'));
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.notEqual(waited.code, 0);
    const failed = counts(
      db,
      `select t.kind as k, count(*) as n from task_runs r join tasks t on t.id = r.task_id where r.outcome = 'failed' group by t.kind`,
    );
    assert.deepEqual([...failed], [['split', 1]]);
    const c = await scrape(`http://${address}/metrics`);
    assert.equal(sampleValue(c, 'avspl1t_tasks_failed_total', { kind: 'split' }), 1);
    assert.equal(sampleValue(c, 'avspl1t_tasks_finished_total', { kind: 'split' }), 0);
    assert.equal(sampleValue(c, 'avspl1t_jobs', { state: 'failed' }), 1);
    const w = await scrape(`http://${workerMetrics}/metrics`);
    const failures = w.samples.filter((s) => s.name === 'avspl1t_worker_task_failures_total');
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.labels.kind, 'split');
    assert.equal(failures[0]!.value, 1);
  });

  it('with tokens configured, /metrics needs a client token and /healthz does not', async () => {
    const { address } = await startCoordinator(path.join(dir.path, 'auth.sqlite'), [
      '--token',
      'client-secret',
      '--worker-token',
      'worker-secret',
    ]);
    const bare = await fetch(`http://${address}/metrics`);
    assert.equal(bare.status, 401);
    assert.doesNotMatch(await bare.text(), /secret/);
    const wrong = await fetch(`http://${address}/metrics`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const c = await scrape(`http://${address}/metrics`, { authorization: 'Bearer client-secret' });
    assert.equal(c.types.get('avspl1t_jobs'), 'gauge');
    assert.equal((await fetch(`http://${address}/healthz`)).status, 200);
    assert.equal((await fetch(`http://${address}/readyz`)).status, 200);
  });

  it('a lease left to expire counts one expiry and one hand-out per claim, as the database records them', async () => {
    const db = path.join(dir.path, 'expiry.sqlite');
    const { address } = await startCoordinator(db, ['--lease-seconds', '1']);
    await submitUnchecked(address, clip, path.join(dir.path, 'expiry'));
    // A worker that takes the split and is never heard from again.
    const handle = connectCoordinator(address);
    try {
      const { task } = await handle.client.getTask({ workerId: 'silent', waitMs: 5000 });
      assert.equal(task?.kind.case, 'split');
    } finally {
      handle.close();
    }
    const deadline = Date.now() + 20_000;
    let c = await scrape(`http://${address}/metrics`);
    while (sampleValue(c, 'avspl1t_lease_expiries_total') === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      c = await scrape(`http://${address}/metrics`);
    }
    const expired = query<{ n: number }>(
      db,
      `select count(*) as n from task_runs where outcome = 'expired'`,
    )[0]!.n;
    assert.equal(expired, 1);
    assert.equal(sampleValue(c, 'avspl1t_lease_expiries_total'), expired);
    assert.equal(sampleValue(c, 'avspl1t_tasks_handed_out_total', { kind: 'split' }), 1);
    assert.equal(sampleValue(c, 'avspl1t_tasks', { state: 'queued' }), 1, 'the split is queued again');
  });
});
