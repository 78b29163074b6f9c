// A file that is not a video (text named .mp4): `submit` refuses it before the
// job is queued (exit 2, "not a video file"), and a job that reaches a worker
// anyway fails with the same words, not ffmpeg's "moov atom not found".
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { query, startCoordinator } from './operator.js';
import { cli, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
let text: string;
before(async () => {
  dir = await tmpDir('avspl1t-not-a-video-');
  text = path.join(dir.path, 'notes.mp4');
  await writeFile(text, 'this is not a video\n'.repeat(50));
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

it('submit refuses a local text file named .mp4 with exit code 2 and "not a video file"; no job is queued', async () => {
  const { address, db } = await startCoordinator(path.join(dir.path, 'submit.sqlite'));
  const r = await cli([
    ...['submit', '--coordinator', address, '--input', text],
    ...['--working-dir', path.join(dir.path, 'work'), '--output-dir', path.join(dir.path, 'out')],
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: input is not a video file.*notes\.mp4\n$/);
  assert.doesNotMatch(r.stderr, /moov|Invalid data/);
  assert.deepEqual(query(db, 'SELECT id FROM jobs'), []);
});

it('a text file that reaches a worker fails its job with "not a video file"', async () => {
  const { address } = await startCoordinator(path.join(dir.path, 'worker.sqlite'));
  startWorker(address, path.join(dir.path, 'tmp'));
  // Submitted through the API, as a client that cannot read the file would.
  const handle = connectCoordinator(address);
  try {
    const { jobId } = await handle.client.submitJob({
      job: {
        input: fileAt(text),
        working: folderAt(path.join(dir.path, 'work2')),
        output: folderAt(path.join(dir.path, 'out2')),
        secondsPerSegment: 2,
      },
    });
    const waited = await cli(['wait', jobId, '--json', '--coordinator', address]);
    assert.equal(waited.code, 1, waited.stderr);
    const job = JSON.parse(waited.stdout) as { failureReason: string };
    assert.match(job.failureReason, /not a video file/);
    assert.doesNotMatch(job.failureReason, /moov|Invalid data/);
  } finally {
    handle.close();
  }
});
