// Numeric flags of the long-running programs have upper bounds: a lease of
// 10^8 s would not fit the heartbeat interval workers are sent (uint32 ms).
import assert from 'node:assert/strict';
import path from 'node:path';
import { it } from 'node:test';
import { tmpDir } from '../helpers/tmp.js';
import { cli } from './processes.js';

it('coordinator --lease-seconds above a day is refused naming the flag', async () => {
  const dir = await tmpDir('avspl1t-flags-');
  try {
    const r = await cli(
      [
        'coordinator',
        '--listen',
        '127.0.0.1:0',
        '--db',
        path.join(dir.path, 'db.sqlite'),
        '--lease-seconds',
        '100000000',
      ],
      20_000,
    );
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /--lease-seconds must be at most 86400/);
  } finally {
    await dir.cleanup();
  }
});
