import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseRange, type StaticServer, serveDir } from '../helpers/http-server.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

/** GET with the path sent byte for byte (fetch would normalise `..` away). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.path = path;
    req.on('error', reject);
    req.end();
  });
}

describe('serveDir', () => {
  let dir: TmpDir;
  let root: string;
  let server: StaticServer;
  const segment = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

  before(async () => {
    dir = await tmpDir('http-server-');
    root = join(dir.path, 'www');
    await mkdir(join(root, 'sub'), { recursive: true });
    await writeFile(join(dir.path, 'secret.txt'), 'outside the root');
    await writeFile(join(root, 'index.m3u8'), '#EXTM3U\n');
    await writeFile(join(root, 'sub', 'seg0.m4s'), segment);
    await writeFile(join(root, 'init.mp4'), segment);
    await writeFile(join(root, 'app.js'), 'export {};\n');
    await writeFile(join(root, 'page.html'), '<!doctype html>');
    await symlink(join(dir.path, 'secret.txt'), join(root, 'link.txt'));
    server = await serveDir(root, {
      routes: {
        '/lib/player.js': join(root, 'app.js'),
        '/inline.html': { body: '<p>hi</p>', contentType: 'text/html; charset=utf-8' },
      },
    });
  });
  after(async () => {
    await server.close();
    await dir.cleanup();
  });

  test('sends the HLS, fMP4, JavaScript and HTML content types with CORS', async () => {
    const expected: Record<string, string> = {
      '/index.m3u8': 'application/vnd.apple.mpegurl',
      '/sub/seg0.m4s': 'video/mp4',
      '/init.mp4': 'video/mp4',
      '/app.js': 'text/javascript; charset=utf-8',
      '/page.html': 'text/html; charset=utf-8',
    };
    for (const [path, type] of Object.entries(expected)) {
      const res = await fetch(server.url + path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), type, path);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
      await res.arrayBuffer();
    }
    const preflight = await fetch(server.url + '/sub/seg0.m4s', { method: 'OPTIONS' });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Range/);
  });

  test('answers byte ranges with 206, suffix ranges, and 416 past the end', async () => {
    const first = await fetch(server.url + '/sub/seg0.m4s', { headers: { Range: 'bytes=10-19' } });
    assert.equal(first.status, 206);
    assert.equal(first.headers.get('content-range'), 'bytes 10-19/100');
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), segment.subarray(10, 20));

    const tail = await fetch(server.url + '/sub/seg0.m4s', { headers: { Range: 'bytes=-5' } });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), segment.subarray(95));

    const open = await fetch(server.url + '/sub/seg0.m4s', { headers: { Range: 'bytes=90-' } });
    assert.equal(open.headers.get('content-range'), 'bytes 90-99/100');
    assert.equal((await open.arrayBuffer()).byteLength, 10);

    const past = await fetch(server.url + '/sub/seg0.m4s', { headers: { Range: 'bytes=100-' } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), 'bytes */100');
    await past.arrayBuffer();

    assert.deepEqual(parseRange('bytes=0-0,5-6', 100), 'ignore');
    assert.deepEqual(parseRange('bytes=5-1000', 100), { start: 5, end: 99 });
  });

  test('HEAD gives the length without a body', async () => {
    const res = await fetch(server.url + '/sub/seg0.m4s', { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '100');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  test('never serves a file outside the root, by dot segments, encoded slashes or symlinks', async () => {
    for (const path of [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
    ]) {
      const res = await rawGet(server.url, path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body, /outside the root/, path);
    }
    assert.equal((await rawGet(server.url, '/link.txt')).status, 404);
    assert.equal((await rawGet(server.url, '/missing.m4s')).status, 404);
  });

  test('serves extra routes from a file and from memory, and logs every request', async () => {
    const script = await fetch(server.url + '/lib/player.js');
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await script.text(), 'export {};\n');
    const inline = await fetch(server.url + '/inline.html');
    assert.equal(await inline.text(), '<p>hi</p>');
    assert.ok(server.requests.some((r) => r.path === '/inline.html' && r.status === 200));
    assert.ok(server.requests.some((r) => r.path === '/sub/seg0.m4s' && r.status === 206 && r.range));
  });
});
