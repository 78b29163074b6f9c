// The distributed system end to end, as separate OS processes: one coordinator,
// two workers, the client submitting a generated clip with audio. The output
// passes the media checks and plays in hls.js and Shaka; a worker killed with
// SIGKILL mid-encode costs a retry, not the job.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { serveDir } from '../helpers/http-server.js';
import { checkOutput } from '../helpers/media-checks.js';
import { playHls } from '../helpers/player.js';
import { assertPlayedExactly, expectedPlayback } from '../helpers/player-checks.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { query, startCoordinator as startOperatorCoordinator, submit as submitClip } from './operator.js';
import { cli, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-e2e-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/** A coordinator on `<name>.sqlite` in this suite's folder. */
function startCoordinator(name: string, extra: string[] = []) {
  return startOperatorCoordinator(path.join(dir.path, `${name}.sqlite`), extra);
}

/** The suite's clip submitted into `<name>-work` / `<name>-out`. */
function submit(address: string, name: string, extra: string[] = []) {
  return submitClip(address, clip, path.join(dir.path, name), extra);
}

/** Segment URIs of the video playlist, each must appear once. */
async function segmentUris(out: string): Promise<string[]> {
  return parseMediaPlaylist(await readFile(path.join(out, 'video.m3u8'), 'utf8')).entries.map((e) => e.uri);
}

describe('distributed encode with separate processes', { concurrency: 1 }, () => {
  it('one coordinator, two workers: the output passes the media checks, plays, and both workers encoded', async () => {
    const { coordinator, address, db } = await startCoordinator('spread');
    const workers = [
      startWorker(address, path.join(dir.path, 'tmp-a'), { id: 'worker-a' }),
      startWorker(address, path.join(dir.path, 'tmp-b'), { id: 'worker-b' }),
    ];
    const { jobId, out } = await submit(address, 'spread');

    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout.trim(), path.join(out, 'master.m3u8'));

    const report = await checkOutput(out, clip);
    const uris = await segmentUris(out);
    assert.equal(new Set(uris).size, uris.length, 'each segment once');
    assert.equal(report.segments, 5);
    const byWorker = query<{ worker_id: string; n: number }>(
      db,
      "SELECT r.worker_id, count(*) AS n FROM task_runs r JOIN tasks t ON t.id = r.task_id WHERE t.kind = 'encode' AND r.outcome = 'succeeded' GROUP BY r.worker_id",
    );
    assert.deepEqual(
      byWorker.map((w) => w.worker_id).sort(),
      ['worker-a', 'worker-b'],
      `encodes per worker: ${JSON.stringify(byWorker)}`,
    );

    const status = await cli(['status', jobId, '--coordinator', address]);
    assert.match(status.stdout, /state\s+succeeded/);
    assert.match(status.stdout, /progress\s+100\.0% \(5\/5 segments\)/);

    const server = await serveDir(out);
    try {
      const expected = await expectedPlayback(clip);
      for (const player of ['hlsjs', 'shaka'] as const)
        assertPlayedExactly(
          await playHls(`${server.url}/master.m3u8`, { player, timeoutMs: 90_000 }),
          expected,
        );
    } finally {
      await server.close();
    }

    // SIGTERM: workers and coordinator exit cleanly.
    for (const p of [...workers, coordinator]) p.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([...workers, coordinator].map((p) => p.exited)), [0, 0, 0]);
  });

  it('--parallelism 2: encode tasks covering several segments, through the coordinator and two workers, give the source frame for frame', async () => {
    const { coordinator, address, db } = await startCoordinator('grouped');
    const workers = [
      startWorker(address, path.join(dir.path, 'grouped-a'), { id: 'grouped-a' }),
      startWorker(address, path.join(dir.path, 'grouped-b'), { id: 'grouped-b' }),
    ];
    const { jobId, out } = await submit(address, 'grouped', [
      '--seconds-per-segment',
      '0.5',
      '--parallelism',
      '2',
    ]);
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, waited.stderr);

    const report = await checkOutput(out, clip);
    assert.equal(report.segments, 10);
    const encodes = query<{ id: string; runs: number }>(
      db,
      "SELECT t.id, count(r.task_id) AS runs FROM tasks t LEFT JOIN task_runs r ON r.task_id = t.id AND r.outcome = 'succeeded' WHERE t.job_id = ? AND t.kind = 'encode' GROUP BY t.id",
      jobId,
    );
    assert.ok(encodes.length < 10, `${encodes.length} encode tasks for 10 segments: some cover several`);
    assert.ok(encodes.length >= 2, `${encodes.length} encode tasks`);
    assert.ok(
      encodes.every((t) => t.runs === 1),
      `each encode task succeeded once: ${JSON.stringify(encodes)}`,
    );
    for (const p of [...workers, coordinator]) p.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([...workers, coordinator].map((p) => p.exited)), [0, 0, 0]);
  });

  it('a worker killed with SIGKILL mid-encode: the job completes with every segment exactly once', async () => {
    const { address, db } = await startCoordinator('kill', ['--lease-seconds', '2']);
    const tmpA = path.join(dir.path, 'kill-tmp');
    const victim = startWorker(address, tmpA, { id: 'victim' });
    const { jobId, out } = await submit(address, 'kill');

    // Wait until the victim is in the middle of an encode, then kill it.
    const deadline = Date.now() + 60_000;
    let held: { id: string }[] = [];
    const hasTempDir = async () => (await readdir(tmpA).catch(() => [])).some((n) => n.startsWith('task-'));
    while ((held.length === 0 || !(await hasTempDir())) && Date.now() < deadline) {
      held = query<{ id: string }>(
        db,
        "SELECT id FROM tasks WHERE kind = 'encode' AND state = 'running' AND lease_owner = 'victim'",
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(held.length > 0, 'the victim started an encode');
    victim.child.kill('SIGKILL');
    assert.equal(await victim.exited, 'SIGKILL');
    assert.ok(
      (await readdir(tmpA)).some((n) => n.startsWith('task-')),
      'the killed worker left its temp dir',
    );

    // The survivor uses the same temp root: it cleans up after the dead worker.
    const survivor = startWorker(address, tmpA, { id: 'survivor' });
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, `${waited.stderr}\n${survivor.output().stderr}`);

    const uris = await segmentUris(out);
    assert.equal(uris.length, 5);
    assert.equal(new Set(uris).size, 5, 'every segment exactly once');
    await checkOutput(out, clip);
    const runs = query<{ outcome: string; worker_id: string }>(
      db,
      'SELECT outcome, worker_id FROM task_runs WHERE task_id = ?',
      held[0]!.id,
    );
    assert.deepEqual(
      runs.map((r) => `${r.worker_id}:${r.outcome}`),
      ['victim:expired', 'survivor:succeeded'],
    );
    const status = await cli(['status', jobId, '--coordinator', address]);
    assert.match(
      status.stdout,
      /retried\s+encode \d+: succeeded after 2 attempts, last error: lease expired: worker victim/,
    );
    assert.deepEqual(
      (await readdir(tmpA)).filter((n) => n.startsWith(`task-${victim.child.pid}-`)),
      [],
      "the dead worker's temp dir was removed",
    );
  });

  it('client commands: jobs lists, cancel stops, wait exits 2 for a cancelled job; bad input is one error line', async () => {
    const { address } = await startCoordinator('client');
    const { jobId } = await submit(address, 'client');
    const jobs = await cli(['jobs', '--coordinator', address]);
    assert.match(jobs.stdout, new RegExp(`${jobId}\\s+queued`));
    const cancelled = await cli(['cancel', jobId, '--coordinator', address]);
    assert.equal(cancelled.stdout.trim(), `job ${jobId} cancelled`);
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 2);

    for (const [args, message] of [
      [['status', 'no-such-job', '--coordinator', address], /^error: job no-such-job not found$/],
      [
        [
          'submit',
          '--coordinator',
          address,
          '--input',
          path.join(dir.path, 'missing.mp4'),
          '--working-dir',
          dir.path,
          '--output-dir',
          dir.path,
        ],
        /^error: input not found: /,
      ],
      [
        [
          'submit',
          '--coordinator',
          address,
          '--input',
          clip,
          '--working-dir',
          dir.path,
          '--output-dir',
          dir.path,
          '--seconds-per-segment',
          '0',
        ],
        /^error: --seconds-per-segment must be at least 0\.1, got 0$/,
      ],
      [
        ['jobs', '--coordinator', '127.0.0.1:1'],
        /^error: cannot reach the coordinator at http:\/\/127\.0\.0\.1:1: /,
      ],
      [['worker', '--coordinator', 'nonsense'], /^error: --coordinator: expected host:port/],
    ] as const) {
      const r = await cli([...args]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr.trim(), message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
