// The console's file route serves only what it should: the built console, and
// from a job's output folder only playlists and media, never a path leading
// out of the folder (dot segments, encoded or not, or a symlink), and job
// output only with the token when one is required.
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { consoleFiles } from '../../src/coordinator/console-files.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
let server: http.Server;
let port: number;
before(async () => {
  dir = await tmpDir('avspl1t-console-files-');
  const built = path.join(dir.path, 'built');
  const out = path.join(dir.path, 'out');
  await mkdir(path.join(built, 'assets'), { recursive: true });
  await mkdir(out);
  await writeFile(path.join(built, 'index.html'), '<!doctype html>console');
  await writeFile(path.join(built, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(path.join(out, 'master.m3u8'), '#EXTM3U\n');
  await writeFile(path.join(out, 'notes.txt'), 'not media');
  await writeFile(path.join(dir.path, 'secret.m3u8'), 'outside the output folder');
  await symlink(path.join(dir.path, 'secret.m3u8'), path.join(out, 'link.m3u8'));
  const handle = consoleFiles({
    dir: built,
    outputFolder: async (jobId) => (jobId === 'job-1' ? out : undefined),
    authorize: (authorization) => {
      if (authorization !== 'Bearer right') throw new Error('invalid token for Metrics');
    },
  });
  server = http.createServer((req, res) => {
    void handle(req, res).then((served) => {
      if (!served) {
        res.statusCode = 404;
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await dir.cleanup();
});

/** GETs `rawPath` as sent (no URL normalisation), with `token` if given. */
function get(rawPath: string, token?: string): Promise<{ status: number; body: string; type?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: rawPath, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('console files', () => {
  it('serves the built console, index.html at /console/', async () => {
    assert.deepEqual(await get('/console/'), {
      status: 200,
      body: '<!doctype html>console',
      type: 'text/html; charset=utf-8',
    });
    assert.equal((await get('/console/assets/app.js')).status, 200);
    assert.equal((await get('/console/missing.js')).status, 404);
  });

  it('serves a playlist from the job output folder with the token, and nothing without it', async () => {
    assert.equal((await get('/console/output/job-1/master.m3u8')).status, 401);
    assert.equal((await get('/console/output/job-1/master.m3u8', 'wrong')).status, 401);
    const ok = await get('/console/output/job-1/master.m3u8', 'right');
    assert.equal(ok.status, 200);
    assert.equal(ok.body, '#EXTM3U\n');
    assert.equal(ok.type, 'application/vnd.apple.mpegurl');
    assert.equal((await get('/console/output/job-2/master.m3u8', 'right')).status, 404, 'no such job');
  });

  it('refuses files that are not media, dot segments and symlinks leading out of the folder', async () => {
    for (const p of [
      '/console/output/job-1/notes.txt',
      '/console/output/job-1/../secret.m3u8',
      '/console/output/job-1/..%2Fsecret.m3u8',
      '/console/output/job-1/%2E%2E/secret.m3u8',
      '/console/output/job-1/link.m3u8',
      '/console/../secret.m3u8',
      '/console/..%2Fsecret.m3u8',
      // Malformed percent-encoding: a 404, not an exception.
      '/console/%E0%A4%A',
      '/console/output/job-1/%E0%A4%A.m3u8',
      '/console/output/%E0%A4%A/master.m3u8',
    ]) {
      const r = await get(p, 'right');
      assert.equal(r.status, 404, `${p}: ${r.status} ${r.body}`);
      assert.doesNotMatch(r.body, /outside the output folder/);
    }
  });
});
