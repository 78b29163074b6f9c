// The Node.js that avspl1t runs on: `--version` names it, the tests run on the major in
// .nvmrc (or newer), and the launcher stops with a hint on a Node.js older than engines.node.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN, cli } from './processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
};
const wanted = Number(readFileSync(path.join(ROOT, '.nvmrc'), 'utf8').trim());
const major = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);

/** The system's node when it is older than engines.node (a fresh Debian machine's Node 20). */
const OLD_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find(
  (p) => existsSync(p) && major(execFileSync(p, ['--version'], { encoding: 'utf8' })) < wanted,
);

describe('the Node.js runtime', () => {
  it('avspl1t --version prints the avspl1t version and the Node.js version it runs on, and no warning', async () => {
    const node = execFileSync(process.execPath, ['--version'], { encoding: 'utf8' }).trim();
    const r = await cli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `avspl1t ${pkg.version} (Node.js ${node})\n`);
    assert.equal(r.stderr, '');
  });

  it('the tests run on the Node.js major of .nvmrc or newer, which engines.node requires', () => {
    assert.ok(major(process.version) >= wanted, `tests run on ${process.version}, want ${wanted}`);
    assert.equal(pkg.engines.node, `>=${wanted}`);
  });

  it('the launcher refuses an older Node.js with a one-line hint', {
    skip: OLD_NODE ? false : 'no Node.js older than .nvmrc installed',
  }, async () => {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(OLD_NODE!, [BIN, '--version'], { timeout: 30_000 }, (_err, stdout, stderr) =>
        resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^error: avspl1t needs Node\\.js ${wanted} or newer, this is v\\d+`));
    assert.match(r.stderr, /source scripts\/node-env\.sh/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
