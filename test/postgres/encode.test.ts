// One real encode with the state in PostgreSQL: a coordinator process on a
// postgres:// URL, one worker process running ffmpeg, a tiny generated clip.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { checkOutput } from '../helpers/media-checks.js';
import { usePostgres } from '../helpers/postgres.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { sql } from './fleet.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-pg-e2e-');
});
after(async () => {
  await stopAll();
  await dir?.cleanup();
});
const server = usePostgres(); // after the hooks above: it stops once the programs have

describe('encode with PostgreSQL state', { timeout: 300_000 }, () => {
  it('a coordinator on postgres:// and one worker process encode a clip that passes the media checks', async () => {
    const clip = await makeClip(dir.path, CLIPS.short);
    const url = await server().createDatabase('encode');
    const coordinator = startProgram([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--db',
      url,
      '--log-level',
      'warn',
    ]);
    const address = await coordinator.firstLine();
    const worker = startWorker(address, path.join(dir.path, 'tmp'), { id: 'pg-worker' });
    const out = path.join(dir.path, 'out');
    const submitted = await cli([
      'submit',
      '--coordinator',
      address,
      '--input',
      clip,
      '--working-dir',
      path.join(dir.path, 'work'),
      '--output-dir',
      out,
      '--seconds-per-segment',
      '1',
      '--preset',
      '12',
      '--crf',
      '40',
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const jobId = submitted.stdout.trim();
    const waited = await cli(['wait', jobId, '--coordinator', address], 240_000);
    assert.equal(
      waited.code,
      0,
      `${waited.stderr}\n${worker.output().stderr}\n${coordinator.output().stderr}`,
    );
    const master = path.join(out, 'master.m3u8');
    assert.equal(waited.stdout.trim(), master);
    await access(master);
    const report = await checkOutput(out, clip);

    // The run is on record in PostgreSQL: split, one encode per segment, manifest, all by the one worker.
    const runs = await sql<{ kind: string; worker_id: string; outcome: string }>(
      url,
      'SELECT t.kind, r.worker_id, r.outcome FROM task_runs r JOIN tasks t ON t.id = r.task_id ORDER BY r.started_at',
    );
    assert.deepEqual(runs.map((r) => r.kind).sort(), [
      ...Array<string>(report.segments).fill('encode'),
      'manifest',
      'split',
    ]);
    assert.ok(
      runs.every((r) => r.worker_id === 'pg-worker' && r.outcome === 'succeeded'),
      JSON.stringify(runs),
    );

    for (const p of [worker, coordinator]) p.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([worker.exited, coordinator.exited]), [0, 0]);
  });
});
