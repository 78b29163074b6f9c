// Secrets of avspl1t (worker and client tokens, every AVSPL1T_* variable) and
// AWS keys never reach the environment of ffmpeg/ffprobe: a real worker process
// runs a job through fixture scripts standing in for both, which record the
// environment they were started with and then run the real program.
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const SECRETS = {
  AVSPL1T_WORKER_TOKEN: 'worker-token-7f3a',
  AVSPL1T_TOKEN: 'client-token-91bc',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-5d2e',
  AWS_SESSION_TOKEN: 'aws-session-0c4f',
};

let dir: TmpDir;
let handle: ClientHandle;
const saved = { ...process.env };

before(async () => {
  dir = await tmpDir('avspl1t-env-');
  for (const name of ['ffmpeg', 'ffprobe'] as const) {
    const script = path.join(dir.path, `${name}-fixture.sh`);
    await writeFile(script, `#!/bin/sh\nenv > '${dir.path}/env-${name}-'$$\nexec ${name} "$@"\n`);
    await chmod(script, 0o755);
    process.env[`AVSPL1T_${name.toUpperCase()}`] = script;
  }
  // The programs started below inherit these.
  Object.assign(process.env, SECRETS, { AVSPL1T_TEST_HARMLESS: 'kept-or-not', LANG_TEST_KEEP: 'kept' });
  const coordinator = startProgram([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--db',
    path.join(dir.path, 'db.sqlite'),
    '--log-level',
    'warn',
  ]);
  const address = await coordinator.firstLine();
  startWorker(address, path.join(dir.path, 'tmp'));
  handle = connectCoordinator(address, { token: SECRETS.AVSPL1T_WORKER_TOKEN });
});
after(async () => {
  process.env = saved;
  handle?.close();
  await stopAll();
  await dir?.cleanup();
});

it('ffmpeg and ffprobe run by a worker get no token, no AVSPL1T_* and no AWS secret in their environment', async () => {
  const clip = await makeClip(dir.path, CLIPS.short);
  const { jobId } = await handle.client.submitJob({
    job: {
      input: fileAt(clip),
      working: folderAt(path.join(dir.path, 'work')),
      output: folderAt(path.join(dir.path, 'out')),
      secondsPerSegment: 1,
      settings: { encoder: 'svt', crf: 40, preset: 12 },
    },
  });
  const deadline = Date.now() + 120_000;
  let state = JobState.QUEUED;
  while (state === JobState.QUEUED || state === JobState.RUNNING) {
    assert.ok(Date.now() < deadline, 'the job did not finish');
    await new Promise((r) => setTimeout(r, 250));
    const { job } = await handle.client.getJob({ jobId });
    state = job!.state;
    if (state === JobState.FAILED) assert.fail(job!.failureReason);
  }
  assert.equal(state, JobState.SUCCEEDED);

  const files = (await readdir(dir.path)).filter((f) => f.startsWith('env-'));
  assert.ok(
    files.some((f) => f.startsWith('env-ffmpeg-')),
    `ffmpeg ran through the fixture: ${files}`,
  );
  assert.ok(
    files.some((f) => f.startsWith('env-ffprobe-')),
    `ffprobe ran through the fixture: ${files}`,
  );
  for (const f of files) {
    const env = await readFile(path.join(dir.path, f), 'utf8');
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!env.includes(value), `${f} holds the value of ${name}`);
    }
    assert.doesNotMatch(env, /^AVSPL1T_/m, `${f} holds an AVSPL1T_ variable`);
    assert.match(env, /^LANG_TEST_KEEP=kept$/m, `${f}: other variables are passed on`);
    assert.match(env, /^PATH=/m, `${f}: PATH is passed on`);
  }
});
