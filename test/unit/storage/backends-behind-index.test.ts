// Storage backends are reached only through src/storage/index.ts: no module outside
// src/storage imports a backend file (fs.ts, s3.ts), so adding a backend touches
// one new file and one switch.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../src');
const BACKEND_IMPORT = /from '[./]*\/storage\/(fs|s3)\.js'|import\('[./]*\/storage\/(fs|s3)\.js'\)/;

it('no module outside src/storage imports a storage backend directly', async () => {
  const files = (await readdir(SRC, { recursive: true })).filter(
    (f) => f.endsWith('.ts') && !f.startsWith(`storage${path.sep}`) && !f.startsWith(`gen${path.sep}`),
  );
  assert.ok(files.length > 50, `${files.length} source files found under ${SRC}`);
  const offenders: string[] = [];
  for (const f of files) {
    const text = await readFile(path.join(SRC, f), 'utf8');
    for (const line of text.split('\n'))
      if (BACKEND_IMPORT.test(line)) offenders.push(`${f}: ${line.trim()}`);
  }
  assert.deepEqual(offenders, []);
});
