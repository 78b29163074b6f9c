// The 2-minute chaos soak (bench/chaos/, `npm run chaos`): a cluster of network namespaces takes a
// seeded schedule of kills, pauses, link cuts and restarts while jobs run, and no invariant may be
// violated. Skipped only where the soak cannot run: not root, or no `ip netns`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cannotRunReason } from '../../bench/chaos/net.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/chaos/main.js');
/** A fixed seed keeps CI's schedule the same from run to run; AVSPL1T_CHAOS_SEED tries another. */
const SEED = process.env.AVSPL1T_CHAOS_SEED ?? '19';

const reason = await cannotRunReason();
if (reason) console.log(`chaos soak skipped: ${reason}`);

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-chaos-');
});
after(async () => {
  await dir?.cleanup();
});

test('a 2-minute chaos soak ends every job and violates no invariant', {
  skip: reason,
  timeout: 30 * 60_000,
}, async () => {
  const report = path.join(dir.path, 'CHAOS.md');
  const json = path.join(dir.path, 'result.json');
  const child = spawn(
    process.execPath,
    [MAIN, '--minutes', '2', '--seed', SEED, '--report', report, '--json', json],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const result = JSON.parse(await readFile(json, 'utf8').catch(() => '{}')) as {
    violations?: { invariant: string; detail: string }[];
    jobs?: number;
    faults?: number;
  };
  assert.ok(result.violations, `the soak wrote no result (exit ${code}):\n${output.slice(-4000)}`);
  assert.deepEqual(result.violations, [], `seed ${SEED}:\n${output.slice(-6000)}`);
  assert.equal(code, 0, output.slice(-4000));
  assert.ok((result.jobs ?? 0) > 0, 'jobs ran');
  assert.ok((result.faults ?? 0) > 0, 'faults were injected');
});
