// Worker temp dirs with real users (root and nobody): each user gets a default
// of its own, an unusable one stops the worker at start, and one that breaks
// later costs the worker its tasks (given back), never the job.
import assert from 'node:assert/strict';
import { chmod, chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { query, startCoordinator, submit, waitFor } from './operator.js';
import { cli, startProgram, stopAll } from './processes.js';

const NOBODY = { uid: 65534, gid: 65534 };
const asRoot = process.getuid?.() === 0;

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-tmpdirs-');
  await chmod(dir.path, 0o755);
  clip = await makeClip(dir.path, CLIPS.short);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/** Folders `<name>-work` and `<name>-out` that nobody may write. */
async function foldersForNobody(name: string): Promise<string> {
  const base = path.join(dir.path, name);
  for (const d of [`${base}-work`, `${base}-out`]) {
    await mkdir(d);
    await chown(d, NOBODY.uid, NOBODY.gid);
  }
  return base;
}

const worker = (address: string, id: string, extra: string[] = [], options = {}) =>
  startProgram(['worker', '--coordinator', address, '--id', id, '--log-level', 'warn', ...extra], options);

describe('worker temp dirs', {
  concurrency: 1,
  skip: !asRoot && 'needs root to run workers as nobody',
}, () => {
  it("workers of two users sharing the OS temp dir each use their own default, and both users' jobs succeed", async () => {
    const shared = path.join(dir.path, 'os-tmp');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const env = { ...process.env, TMPDIR: shared };
    const { address } = await startCoordinator(path.join(dir.path, 'users.sqlite'));
    // root's worker runs first and makes its temp dir.
    const rootWorker = worker(address, 'root-w', [], { env });
    const first = await submit(address, clip, await foldersForNobody('root-job'));
    assert.equal((await cli(['wait', first.jobId, '--coordinator', address])).code, 0);
    rootWorker.child.kill('SIGTERM');
    assert.equal(await rootWorker.exited, 0);

    const nobodyWorker = worker(address, 'nobody-w', [], { env, ...NOBODY });
    const second = await submit(address, clip, await foldersForNobody('nobody-job'));
    const waited = await cli(['wait', second.jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, `${waited.stderr}\n${nobodyWorker.output().stderr}`);
  });

  it('a worker whose temp dir it cannot write refuses to start, naming the dir', async () => {
    const rootOnly = path.join(dir.path, 'root-only');
    await mkdir(rootOnly, { mode: 0o755 });
    const { address } = await startCoordinator(path.join(dir.path, 'refuse.sqlite'));
    const r = await cli(['worker', '--coordinator', address, '--tmp-dir', rootOnly], 20_000, NOBODY);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr.trim(),
      new RegExp(`^error: cannot use the temp dir ${rootOnly}: .*EACCES.*--tmp-dir`),
    );
  });

  it('a temp dir that breaks after start: the task is given back, the worker backs off, another worker finishes the job', async () => {
    const breaking = path.join(dir.path, 'breaking');
    await mkdir(breaking);
    await chown(breaking, NOBODY.uid, NOBODY.gid);
    const { address, db } = await startCoordinator(path.join(dir.path, 'breaks.sqlite'));
    const broken = worker(address, 'broken', ['--tmp-dir', breaking, '--log-level', 'info'], NOBODY);
    await waitFor('the worker to start', () => /worker started/.test(broken.output().stderr), 20_000);
    await chown(breaking, 0, 0);
    const { jobId } = await submit(address, clip, await foldersForNobody('breaks'));
    await waitFor(
      'the task given back',
      () =>
        query<{ n: number }>(db, "SELECT count(*) AS n FROM task_runs WHERE worker_id = 'broken'")[0]!.n > 0,
    );
    // Backing off: a second claim does not follow at once.
    await new Promise((r) => setTimeout(r, 1500));
    const runs = query<{ outcome: string }>(db, "SELECT outcome FROM task_runs WHERE worker_id = 'broken'");
    assert.deepEqual(
      runs.map((r) => r.outcome),
      ['released'],
      broken.output().stderr,
    );
    worker(address, 'good', ['--tmp-dir', path.join(dir.path, 'good-tmp')]);
    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, `${waited.stderr}\n${broken.output().stderr}`);
    assert.match(broken.output().stderr, /temp dir/);
  });
});
