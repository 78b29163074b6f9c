// A coordinator started while its PostgreSQL is down (restarting, not up yet)
// waits for it instead of exiting: it logs each failed try with the reason (no
// password), answers /healthz but not /readyz, and serves once the database is
// back. A database that is wrong for good (no such database) still fails at once.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectCoordinator } from '../../src/rpc/client.js';
import { sampleJob } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';
import { freePort, tmpDir } from '../helpers/tmp.js';
import { cli, type Program, startProgram, stopAll } from './processes.js';

after(() => stopAll()); // ahead of usePostgres: the coordinators stop before their database
const server = usePostgres();

/** Resolves once `program`'s stderr holds `count` lines matching `pattern`. */
async function waitForLines(program: Program, pattern: RegExp, count: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const matching = () =>
    program
      .output()
      .stderr.split('\n')
      .filter((l) => pattern.test(l));
  let exited = false;
  void program.exited.then(() => (exited = true));
  while (matching().length < count) {
    if (exited || Date.now() > deadline)
      throw new Error(`no ${count} lines matching ${pattern} in:\n${program.output().stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return matching();
}

async function get(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

describe('a coordinator whose database is not up at start', () => {
  it('waits for PostgreSQL (healthz yes, readyz no, no password in the log), then serves a job', {
    timeout: 300_000,
  }, async () => {
    // Trust auth ignores the password: it is there to prove it never reaches the log.
    const postgres = server();
    const url = (await postgres.createDatabase('waits')).replace('postgres@', 'postgres:s3cret-pw@');
    await postgres.halt();
    const port = await freePort();
    const coordinator = startProgram([
      'coordinator',
      '--listen',
      `127.0.0.1:${port}`,
      '--db',
      url,
      '--log-format',
      'json',
    ]);
    let exited: number | string | undefined;
    void coordinator.exited.then((code) => (exited = code));
    try {
      const waits = await waitForLines(coordinator, /"event":"database_wait"/, 2, 60_000);
      assert.equal(exited, undefined, 'still running while the database is down');
      const first = JSON.parse(waits[0]!) as { err: string; retryInMs: number };
      assert.match(first.err, /ECONNREFUSED/, 'the reason is logged');
      assert.match(first.err, /postgres:\*\*\*@/, 'the database is named without its password');
      assert.equal(await get(port, '/healthz'), 200);
      assert.equal(await get(port, '/readyz'), 503);
      const early = connectCoordinator(`127.0.0.1:${port}`);
      try {
        await assert.rejects(
          early.client.getTask({ workerId: 'w0', waitMs: 100 }),
          (err) => ConnectError.from(err).code === Code.Unavailable,
          'an RPC while waiting answers UNAVAILABLE (workers retry it)',
        );
      } finally {
        early.close();
      }

      await postgres.resume();
      assert.equal(await coordinator.firstLine(), `127.0.0.1:${port}`);
      assert.equal(await get(port, '/readyz'), 200);
      const { client, close } = connectCoordinator(`127.0.0.1:${port}`);
      try {
        const { jobId } = await client.submitJob({ job: sampleJob() });
        const task = (await client.getTask({ workerId: 'w1', waitMs: 5000 })).task;
        assert.equal(task?.jobId, jobId, 'the job submitted after the wait is handed out');
      } finally {
        close();
      }
      assert.doesNotMatch(coordinator.output().stderr, /s3cret-pw/, 'no password in the log');
    } finally {
      coordinator.child.kill('SIGTERM');
      await coordinator.exited;
      await postgres.resume().catch(() => {}); // already up unless the test failed early
    }
  });

  it('exits at once with the reason when the database does not exist (not a wait)', {
    timeout: 120_000,
  }, async () => {
    const url = server().url.replace(/\/postgres$/, '/no_such_database');
    const coordinator = startProgram([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--db',
      url,
      '--log-format',
      'json',
    ]);
    const code = await coordinator.exited;
    assert.notEqual(code, 0);
    assert.match(coordinator.output().stderr, /no_such_database.*does not exist/);
    // Not a wait: no try was logged as one to repeat (wall time says little on a loaded host).
    assert.doesNotMatch(coordinator.output().stderr, /"event":"database_wait"/, 'failed at the first try');
  });

  it('exits at once naming the problem when --db has a scheme it does not know, creating nothing', async () => {
    const cwd = await tmpDir('avspl1t-unknown-scheme-');
    try {
      // A coordinator that starts anyway is killed after 90 s (then its stderr has no reason).
      const r = await cli(
        ['coordinator', '--listen', '127.0.0.1:0', '--db', 'mysql://root@127.0.0.1/jobs'],
        90_000,
        {
          cwd: cwd.path,
        },
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /mysql:\/\/.*(postgres|SQLite)/);
      assert.deepEqual(await readdir(cwd.path), [], 'no file or folder made from the URL');
    } finally {
      await cwd.cleanup();
    }
  });
});
