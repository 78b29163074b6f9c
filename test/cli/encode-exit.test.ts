// How `avspl1t encode` ends: once the playlist path is printed and everything it started
// is stopped, the process exits at once instead of waiting for node to drain its event
// loop and free its heap (tens to hundreds of ms on a short clip, bench/REPORT.md).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { EXIT_EVENTS_HOOK } from '../helpers/exit-events.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { cli } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-encode-exit-');
  clip = await makeClip(dir.path, CLIPS.short);
});
after(() => dir.cleanup());

it('a finished encode exits at once (no wait for the event loop to drain), its output printed and its temp folder gone', async () => {
  const events = path.join(dir.path, 'events.txt');
  const out = path.join(dir.path, 'out');
  const scratch = path.join(dir.path, 'tmp');
  await mkdir(scratch);
  const r = await cli(['encode', clip, out, '--preset', '12', '--ladder', 'single'], 120_000, {
    env: {
      ...process.env,
      NODE_OPTIONS: `--import=${EXIT_EVENTS_HOOK}`,
      AVSPL1T_TEST_EXIT_EVENTS: events,
      TMPDIR: scratch,
    },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${path.join(out, 'master.m3u8')}\n`);
  assert.ok(existsSync(path.join(out, 'master.m3u8')));
  assert.deepEqual(await readdir(scratch), [], 'the encode left files in its temp folder');
  assert.deepEqual((await readFile(events, 'utf8')).split('\n').filter(Boolean), ['exit 0']);
});
