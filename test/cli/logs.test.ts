// Logs as an operator reads them: readable lines with ISO times on a terminal
// (a real pty from util-linux `script`) or with --log-format pretty; JSON lines
// otherwise, without duplicate keys. Real coordinator and worker processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startCoordinator, submitUnchecked, waitFor } from './operator.js';
import { BIN, cli, startProgram, startWorker, stopAll } from './processes.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-logs-');
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

const ISO_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}worker: worker started .*concurrency=1 /m;

describe('logs', { concurrency: 1 }, () => {
  it('a worker in a terminal logs readable lines with ISO times', async () => {
    const { address } = await startCoordinator(path.join(dir.path, 'tty.sqlite'));
    const command = [
      process.execPath,
      BIN,
      'worker',
      '--coordinator',
      address,
      '--tmp-dir',
      path.join(dir.path, 'tmp'),
    ];
    // `script` runs the worker on a pseudo-terminal; its own process group is killed after.
    const pty = spawn('script', ['-qfec', command.join(' '), '/dev/null'], { detached: true });
    let out = '';
    pty.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      await waitFor(
        'the worker started line',
        () => ISO_LINE.test(out.split('\x1b[K').join('').replace(/\r/g, '')),
        20_000,
      );
      assert.doesNotMatch(out, /"msg"/, 'no JSON on a terminal');
    } finally {
      process.kill(-pty.pid!, 'SIGKILL');
    }
  });

  it('--log-format pretty outside a terminal; JSON lines by default, without duplicate keys', async () => {
    const { address } = await startCoordinator(path.join(dir.path, 'json.sqlite'));
    const pretty = startWorker(address, path.join(dir.path, 'tmp-p'), { logLevel: 'info' });
    pretty.child.kill('SIGKILL');
    const p = startProgram([
      'worker',
      '--coordinator',
      address,
      '--tmp-dir',
      path.join(dir.path, 'tmp-p'),
      '--log-format',
      'pretty',
      '--log-level',
      'info',
    ]);
    // However long node takes to start on a loaded host: the first line is the one checked.
    await waitFor('the pretty worker to start', () => /worker started/.test(p.output().stderr), 60_000);
    p.child.kill('SIGTERM');
    await p.exited;
    assert.match(p.output().stderr, ISO_LINE);

    const notVideo = path.join(dir.path, 'not-video.mp4');
    await writeFile(notVideo, 'not a video');
    const worker = startWorker(address, path.join(dir.path, 'tmp-j'), { logLevel: 'info' });
    const { jobId } = await submitUnchecked(address, notVideo, path.join(dir.path, 'job'));
    assert.equal((await cli(['wait', jobId, '--coordinator', address])).code, 1);
    await waitFor('the task failed line', () => /task failed/.test(worker.output().stderr), 10_000);
    for (const line of worker.output().stderr.trim().split('\n')) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const keys = [...line.matchAll(/[{,]"(\w+)":/g)].map((m) => m[1]);
      assert.equal(keys.length, new Set(keys).size, `duplicate keys: ${line}`);
      assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT/);
    }
  });
});
