import assert from 'node:assert/strict';
import { mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
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

  test('a client that leaves before the body is sent: the request ends and the file is closed', async () => {
    // A player cancels requests (a playlist reload replaced, a seek): here the client goes
    // before the server opens the file, held back by a slow network (delayMs).
    const file = join(root, 'slow.m4s');
    await writeFile(file, segment);
    const slow = await serveDir(root, { delayMs: (url) => (url === '/slow.m4s' ? 200 : 0) });
    try {
      const socket = connect(Number(new URL(slow.url).port), '127.0.0.1');
      await new Promise<void>((sent) =>
        socket.write('GET /slow.m4s HTTP/1.1\r\nHost: x\r\n\r\n', () => sent()),
      );
      socket.destroy();
      const openOnFile = async () => {
        let n = 0;
        for (const fd of await readdir('/proc/self/fd'))
          if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) n++;
        return n;
      };
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && !slow.requests.some((r) => r.path === '/slow.m4s'))
        await new Promise((wake) => setTimeout(wake, 50));
      assert.ok(
        slow.requests.some((r) => r.path === '/slow.m4s'),
        'the request for /slow.m4s never ended (its handler waits for a close that came before it listened)',
      );
      assert.equal(await openOnFile(), 0, 'slow.m4s is still open');
    } finally {
      await slow.close();
    }
  });
});
