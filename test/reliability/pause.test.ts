// A worker paused (SIGSTOP) past its lease and then resumed (SIGCONT): another
// worker re-runs the task, the paused run is recorded as expired, and the
// playlist holds each segment exactly once. Whether the resumed worker's finish
// is sent and refused or its first heartbeat makes it give up is a race here;
// test/reliability/late-finish.test.ts proves the refusal deterministically.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-pause-');
});
after(async () => {
  await stopAll();
  await dir?.cleanup();
});

interface Run {
  worker_id: string;
  outcome: string | null;
  ended_at: number | null;
  kind: string;
}

function runs(db: string, jobId: string): Run[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn
      .prepare(
        `SELECT r.worker_id, r.outcome, r.ended_at, t.kind FROM task_runs r JOIN tasks t ON t.id = r.task_id
         WHERE r.job_id = ?`,
      )
      .all(jobId) as Run[];
  } finally {
    conn.close();
  }
}

test('a worker paused past its lease and resumed does not undo the re-run; the job completes', async () => {
  const clip = await makeClip(dir.path, CLIPS.oddSize);
  const db = path.join(dir.path, 'db.sqlite');
  const coordinator = startProgram([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--db',
    db,
    '--lease-seconds',
    '2',
    '--log-level',
    'warn',
  ]);
  const address = await coordinator.firstLine();
  const worker = (id: string) => startWorker(address, path.join(dir.path, `tmp-${id}`), { id });
  const paused = worker('paused');
  const h = connectCoordinator(address);
  try {
    const out = path.join(dir.path, 'out');
    const { jobId } = await h.client.submitJob({
      job: {
        input: fileAt(clip),
        working: folderAt(path.join(dir.path, 'work')),
        output: folderAt(out),
        secondsPerSegment: 1,
        settings: { encoder: 'svt', crf: 35, preset: 12 },
      },
    });
    // Pause it while it runs an encode.
    let running: Run | undefined;
    for (let i = 0; i < 1200 && !running; i++) {
      running = runs(db, jobId).find((r) => r.kind === 'encode' && r.ended_at === null);
      if (!running) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(running, 'an encode started');
    paused.child.kill('SIGSTOP');
    worker('rescuer');
    // Past the 2 s lease: the task is expired and given to the rescuer.
    for (let i = 0; i < 200; i++) {
      if (runs(db, jobId).some((r) => r.worker_id === 'paused' && r.outcome === 'expired')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    paused.child.kill('SIGCONT');
    let state: JobState | undefined;
    for (let i = 0; i < 1200; i++) {
      const { job } = await h.client.getJob({ jobId });
      state = job?.state;
      if (state !== JobState.QUEUED && state !== JobState.RUNNING) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(state, JobState.SUCCEEDED);
    const all = runs(db, jobId);
    assert.ok(
      all.some((r) => r.worker_id === 'paused' && r.outcome === 'expired'),
      `the paused run expired: ${JSON.stringify(all)}`,
    );
    const text = await readFile(path.join(out, 'video.m3u8'), 'utf8');
    const segs = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    assert.equal(new Set(segs).size, segs.length, 'each segment exactly once');
  } finally {
    h.close();
  }
});
