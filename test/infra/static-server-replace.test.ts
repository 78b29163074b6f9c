// The tests' static HTTP server sends each file whole and with its own length while the file is
// replaced by a rename, as progressive playlists are (CI once saw ERR_CONTENT_LENGTH_MISMATCH).
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveDir } from '../helpers/http-server.js';

test('a file renamed over while it is served arrives whole, old or new, with a matching length', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'avspl1t-serve-'));
  const small = 'a'.repeat(1_000);
  const large = 'b'.repeat(300_000);
  await writeFile(join(dir, 'list.m3u8'), small);
  const server = await serveDir(dir);
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      await writeFile(join(dir, 'tmp.m3u8'), i % 2 ? small : large);
      await rename(join(dir, 'tmp.m3u8'), join(dir, 'list.m3u8'));
    }
  })();
  try {
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${server.url}/list.m3u8`);
      const body = await res.text();
      assert.equal(Number(res.headers.get('content-length')), body.length, `request ${i}`);
      assert.ok(
        body === small || body === large,
        `request ${i}: a mix of two versions (${body.length} bytes)`,
      );
    }
  } finally {
    stop = true;
    await writer;
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
