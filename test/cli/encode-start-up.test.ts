// What `avspl1t encode` loads at start-up: on a short clip the process's start-up is a
// visible share of the run, so modules a local encode never uses (Prometheus metrics,
// the PostgreSQL driver, the AWS SDK) must stay unloaded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { LOADED_MODULES_HOOK } from '../helpers/loaded-modules.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { cli } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-start-up-');
  clip = await makeClip(dir.path, CLIPS.short);
});
after(() => dir.cleanup());

const PACKAGE = /node_modules\/((?:@[^/]+\/)?[^/]+)\//;

/**
 * The node_modules packages (`@scope/name` or `name`) among `urls`: loaded from
 * node_modules, or bundled into a loaded file of the command's bundle (dist/cli),
 * where the bundler opens each module's code with a `// node_modules/<path>` line.
 */
function packages(urls: string[]): Set<string> {
  const names = new Set<string>();
  for (const url of urls) {
    const direct = PACKAGE.exec(url)?.[1];
    if (direct) names.add(direct);
    else if (url.startsWith('file:') && url.includes('/dist/cli/'))
      for (const line of readFileSync(fileURLToPath(url), 'utf8').split('\n'))
        if (line.startsWith('// node_modules/')) names.add(PACKAGE.exec(line)![1]!);
  }
  return names;
}

describe('avspl1t encode start-up', () => {
  it('a local encode loads neither prom-client, pg nor the AWS SDK', async () => {
    const list = path.join(dir.path, 'modules.txt');
    const out = path.join(dir.path, 'out');
    const r = await cli(['encode', clip, out, '--preset', '12', '--ladder', 'single'], 120_000, {
      env: {
        ...process.env,
        NODE_OPTIONS: `--import=${LOADED_MODULES_HOOK}`,
        AVSPL1T_TEST_LOADED_MODULES: list,
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), path.join(out, 'master.m3u8'));
    const loaded = packages((await readFile(list, 'utf8')).split('\n'));
    // The record is real: what the encode does use is in it.
    for (const used of ['better-sqlite3', '@connectrpc/connect-node']) assert.ok(loaded.has(used), used);
    const unused = [...loaded].filter((p) => p === 'prom-client' || p === 'pg' || p.startsWith('@aws-sdk/'));
    assert.deepEqual(unused, []);
  });

  it("the command does not load node's undici (an ESM import of node:http reads http.WebSocket)", async () => {
    const list = path.join(dir.path, 'version-modules.txt');
    const r = await cli(['--version'], 30_000, {
      env: {
        ...process.env,
        NODE_OPTIONS: `--import=${LOADED_MODULES_HOOK}`,
        AVSPL1T_TEST_LOADED_MODULES: list,
      },
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = (await readFile(list, 'utf8')).split('\n');
    // The record is real: the command's HTTP/2 client and server are in it.
    assert.ok(lines.includes('node-internal:http2'), 'http2 not recorded');
    assert.deepEqual(
      lines.filter((l) => l.includes('undici')),
      [],
    );
  });
});
