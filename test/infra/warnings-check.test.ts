// scripts/no-warnings.sh, which fails scripts/test.sh when the run printed a runtime warning.
// (Test names avoid the warning kinds' names: the spec reporter prints them into that same log.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scripts/no-warnings.sh');

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-warnings-');
});
after(() => dir.cleanup());

/** Runs the check on a log with these lines. */
async function check(name: string, lines: string[]): Promise<{ code: number; stderr: string }> {
  const log = path.join(dir.path, name);
  await writeFile(log, `${lines.join('\n')}\n`);
  return new Promise((resolve) => {
    const child = execFile('bash', [SCRIPT, log], { timeout: 30_000 }, (_err, _stdout, stderr) =>
      resolve({ code: child.exitCode ?? -1, stderr }),
    );
  });
}

const PASSED = ['▶ the store', '  ✔ claims a task (12.3ms)', 'ℹ pass 1', 'ℹ fail 0'];

describe('the log check of scripts/test.sh', () => {
  it('passes a log without runtime warnings', async () => {
    assert.deepEqual(await check('clean.log', PASSED), { code: 0, stderr: '' });
  });

  it('fails on the line Node.js prints for a deprecated API, and shows it', async () => {
    const line = '(node:4242) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.';
    const r = await check('dep.log', [...PASSED.slice(0, 2), line, ...PASSED.slice(2)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^3:\(node:4242\) \[DEP0040\]/);
  });

  it("fails on the AWS SDK's notice that this Node.js will lose support", async () => {
    const r = await check('aws.log', [
      '(node:77) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)',
      ...PASSED,
    ]);
    assert.equal(r.code, 1);
  });

  it('fails on a warning kind a library printed without the Node.js prefix', async () => {
    const r = await check('lib.log', [...PASSED, 'TimeoutOverflowWarning: 4294967296 does not fit']);
    assert.equal(r.code, 1);
  });
});
