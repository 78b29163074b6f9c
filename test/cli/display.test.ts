// Human output of `status` and `jobs` shows control characters in names as
// escapes (\x1b, \n): a file name cannot clear or retitle the terminal, or forge
// a table row. `--json` output stays exact.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { startTestCoordinator, type TestCoordinator } from '../coordinator/harness.js';
import { cli } from './processes.js';

// Retitles the terminal (OSC 0 … BEL), clears the screen (CSI 2J), then starts a line of its own.
const NAME = 'clip\u001b]0;pwned\u0007\u001b[2J\nFORGED  succeeded  100.0%.mp4';

let t: TestCoordinator;
let jobId: string;
let input: string;

before(async () => {
  t = await startTestCoordinator();
  input = path.join(t.dir.path, NAME);
  await writeFile(input, '');
  // No worker: the job stays queued, which is all `status` and `jobs` need.
  ({ jobId } = await t.client.submitJob({
    job: {
      input: fileAt(input),
      working: folderAt(path.join(t.dir.path, 'work')),
      output: folderAt(path.join(t.dir.path, 'out\u001b[31m')),
      secondsPerSegment: 2,
    },
  }));
});
after(() => t?.close());

function assertNoControls(text: string): void {
  // Every line break is one of the output's own; no other control character gets through.
  assert.doesNotMatch(text.replace(/\n/g, ''), /[\u0000-\u001f\u007f-\u009f]/, JSON.stringify(text));
}

it('status shows control characters in names as escapes, and no forged line', async () => {
  const r = await cli(['status', jobId, '--coordinator', t.address]);
  assert.equal(r.code, 0, r.stderr);
  assertNoControls(r.stdout);
  assert.ok(r.stdout.includes('clip\\x1b]0;pwned\\x07\\x1b[2J\\nFORGED  succeeded  100.0%.mp4'), r.stdout);
  assert.ok(r.stdout.includes('out\\x1b[31m'), r.stdout);
  assert.ok(!r.stdout.split('\n').some((l) => l.startsWith('FORGED')), r.stdout);
});

it('jobs shows control characters in names as escapes: one row per job', async () => {
  const r = await cli(['jobs', '--coordinator', t.address]);
  assert.equal(r.code, 0, r.stderr);
  assertNoControls(r.stdout);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, r.stdout);
  assert.ok(lines[1]!.startsWith(jobId) && lines[1]!.includes('\\x1b]0;pwned\\x07'), r.stdout);
});

it('status --json keeps names exact', async () => {
  const r = await cli(['status', jobId, '--json', '--coordinator', t.address]);
  assert.equal(r.code, 0, r.stderr);
  const job = JSON.parse(r.stdout) as { details: { input: { fs: { path: string } } } };
  assert.equal(job.details.input.fs.path, input);
});
