// A worker at --log-level debug logs each ffmpeg command line (secrets redacted)
// and the segment range of each encode task; no token appears in any output.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { cli, startProgram, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-debug-log-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

const WORKER_TOKEN = 'worker-secret-4f1d9a7c';
const CLIENT_TOKEN = 'client-secret-9b2e6d11';

describe('worker debug log', () => {
  it('shows the ffmpeg command line (-c:v libsvtav1) and the segment range of each encode task, and never a token', async () => {
    const db = path.join(dir.path, 'state.sqlite');
    const env = { ...process.env, AVSPL1T_WORKER_TOKEN: WORKER_TOKEN, AVSPL1T_TOKEN: CLIENT_TOKEN };
    const coordinator = startProgram(['coordinator', '--listen', '127.0.0.1:0', '--db', db], { env });
    const address = await coordinator.firstLine();
    const worker = startProgram(
      [
        'worker',
        '--coordinator',
        address,
        '--id',
        'dbg',
        '--tmp-dir',
        path.join(dir.path, 'tmp'),
        '--log-level',
        'debug',
        '--log-format',
        'json',
      ],
      { env },
    );
    const submitted = await cli(
      [
        'submit',
        '--coordinator',
        address,
        '--input',
        clip,
        '--working-dir',
        path.join(dir.path, 'work'),
        '--output-dir',
        path.join(dir.path, 'out'),
        '--seconds-per-segment',
        '0.5',
        '--parallelism',
        '2',
        '--preset',
        '12',
        '--wait',
      ],
      120_000,
      { env },
    );
    assert.equal(submitted.code, 0, submitted.stderr);
    const jobId = /[0-9a-f-]{36}/.exec(submitted.stdout + submitted.stderr)?.[0];
    assert.ok(jobId, submitted.stdout);

    const conn = new Database(db, { readonly: true });
    const { segments_total: total } = conn
      .prepare('SELECT segments_total FROM jobs WHERE id = ?')
      .get(jobId) as { segments_total: number };
    const { n: encodeTasks } = conn
      .prepare("SELECT count(*) AS n FROM tasks WHERE job_id = ? AND kind = 'encode'")
      .get(jobId) as { n: number };
    conn.close();
    assert.ok(encodeTasks < total, 'some encode task covers several segments');

    const lines = worker
      .output()
      .stderr.split('\n')
      .concat(worker.output().stdout.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; command?: string; segments?: string; jobId?: string });

    const encodes = lines.filter((l) => l.msg === 'running ffmpeg' && l.command?.includes('-c:v libsvtav1'));
    assert.ok(encodes.length >= encodeTasks, `an SVT-AV1 ffmpeg command per encode task: ${encodes.length}`);
    assert.match(encodes[0]!.command!, /^\S*ffmpeg /);

    // The ranges logged cover every segment of the job exactly once.
    const ranges = lines.filter((l) => l.msg?.startsWith('encode segments '));
    assert.equal(ranges.length, encodeTasks);
    const covered: number[] = [];
    for (const r of ranges) {
      assert.equal(r.msg, `encode segments ${r.segments} of job ${jobId}`);
      const [a, b = a] = r.segments!.split('-').map(Number);
      for (let i = a!; i <= b!; i++) covered.push(i);
    }
    assert.deepEqual(
      covered.sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
    );

    // `workers` is a client call: the client token lists the worker, no token is refused.
    const listed = await cli(['workers', '--json', '--coordinator', address], 30_000, { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { workers: { id: string }[] }).workers.map((w) => w.id),
      ['dbg'],
    );
    const { AVSPL1T_TOKEN: _t, AVSPL1T_WORKER_TOKEN: _w, ...noTokens } = env;
    const refused = await cli(['workers', '--coordinator', address], 30_000, { env: noTokens });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /token/i);

    const everything = [worker, coordinator].map((p) => p.output().stdout + p.output().stderr).join('\n');
    assert.ok(!everything.includes(WORKER_TOKEN), 'worker token in the output');
    assert.ok(!everything.includes(CLIENT_TOKEN), 'client token in the output');
  });
});
