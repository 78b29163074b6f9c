// The distributed system end to end, as separate OS processes: one coordinator,
// two workers, the client submitting a generated clip with audio. The output
// passes the media checks and plays in hls.js and Shaka; a worker killed with
// SIGKILL mid-encode costs a retry, not the job.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { serveDir } from '../helpers/http-server.js';
import { checkOutput } from '../helpers/media-checks.js';
import { playHls } from '../helpers/player.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { cli, startProgram, startWorker, stopAll } from './processes.js';

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

/** Reads the coordinator's database (WAL lets us read while it runs). */
function query<T>(db: string, sql: string, ...params: unknown[]): T[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}

async function startCoordinator(name: string, extra: string[] = []) {
  const db = path.join(dir.path, `${name}.sqlite`);
  const coordinator = startProgram(['coordinator', '--listen', '127.0.0.1:0', '--db', db, ...extra]);
  const address = await coordinator.firstLine();
  return { coordinator, address, db };
}

async function submit(address: string, name: string, extra: string[] = []) {
  const out = path.join(dir.path, `${name}-out`);
  const r = await cli([
    'submit',
    '--coordinator',
    address,
    '--input',
    clip,
    '--working-dir',
    path.join(dir.path, `${name}-work`),
    '--output-dir',
    out,
    '--seconds-per-segment',
    '1',
    '--preset',
    '12',
    '--crf',
    '35',
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { jobId: r.stdout.trim(), out };
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
      for (const player of ['hlsjs', 'shaka'] as const) {
        const r = await playHls(`${server.url}/master.m3u8`, { player, timeoutMs: 90_000 });
        const what = `${player}: ${JSON.stringify({ ...r, warnings: r.warnings.slice(0, 3) })}`;
        assert.deepEqual(r.errors, [], what);
        assert.ok(r.ended, what);
        assert.equal(r.buffered.length, 1, `one buffered range: ${what}`);
        assert.ok(
          r.decodedFrames >= report.frames,
          `decoded ${r.decodedFrames} of ${report.frames}: ${what}`,
        );
        assert.ok(r.hasAudio, `audio played: ${what}`);
      }
    } finally {
      await server.close();
    }

    // SIGTERM: workers and coordinator exit cleanly.
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
