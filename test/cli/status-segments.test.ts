// Human `status` names the segment range of a grouped encode task (one encoder
// run for several segments, from --parallelism), checked against the pieces in
// the task's payload in the coordinator's database. Real processes and ffmpeg.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { query, startCoordinator, submit, waitFor } from './operator.js';
import { cli, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-status-segments-');
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

it('status names the segment range of a running grouped encode task', async () => {
  const clip = await makeClip(dir.path, CLIPS.ntscLongGop);
  const { address, db } = await startCoordinator(path.join(dir.path, 'jobs.sqlite'));
  startWorker(address, path.join(dir.path, 'tmp'), { id: 'w1' });
  // Parallelism 1: the first encode covers several 1 s segments, at a slow preset.
  const { jobId } = await submit(address, clip, path.join(dir.path, 'job'), [
    '--parallelism',
    '1',
    '--preset',
    '4',
  ]);
  const { idx, pieces } = await waitFor('a running encode of several segments', () => {
    const rows = query<{ idx: number; payload: Uint8Array }>(
      db,
      "SELECT idx, payload FROM tasks WHERE kind = 'encode' AND state = 'running'",
    );
    const grouped = rows
      .map((r) => {
        const task = fromBinary(TaskSchema, r.payload);
        return { idx: r.idx, pieces: task.kind.case === 'encode' ? task.kind.value.pieces.length : 0 };
      })
      .find((r) => r.pieces > 1);
    return grouped;
  });
  const status = await cli(['status', jobId, '--coordinator', address]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(
    status.stdout,
    new RegExp(`^running +encode segs ${idx}-${idx + pieces - 1} on worker w1`, 'm'),
    status.stdout,
  );
});
