// The SQLite store commits the writes asked for in one turn of the event loop
// together (src/db/sqlite/write-batch.ts): counted in the WAL file itself (commit
// frames, as SQLite's file format defines them), and checked on a second
// connection that a write failing inside a batch leaves nothing and loses nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { Policy } from '../../src/coordinator/decide.js';
import { openTaskStore, TaskKind, TaskState } from '../../src/db/index.js';
import { sampleJob } from '../fixtures/messages.js';
import { tmpDir } from '../helpers/tmp.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };

/**
 * Commits in a WAL file: frames of the current WAL (their salts match the
 * header's) whose "database size after commit" field is set. Layout from
 * https://www.sqlite.org/fileformat.html#the_write_ahead_log: a 32-byte header
 * (page size at 8, salts at 16 and 20), then frames of a 24-byte header (size
 * after commit at 4, salts at 8 and 12) and one page.
 */
function walCommits(file: string): number {
  const wal = readFileSync(`${file}-wal`);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

const submission = (id: string, location: string) => ({
  id,
  job: sampleJob('/out'),
  location,
  overwrite: false,
  earlierFiles: false,
});

test('writes asked for in the same turn of the event loop share one commit', async () => {
  const dir = await tmpDir('avspl1t-batch-');
  const file = path.join(dir.path, 'state.sqlite');
  const store = await openTaskStore(file);
  try {
    for (let i = 0; i < 6; i++) await store.submit(submission(randomUUID(), `/out/${i}`), NOW, policy);
    const before = walCommits(file);
    const claims = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.claim({ now: NOW, workerId: `w${i}`, lease: randomUUID(), leaseMs: 60_000 }),
      ),
    );
    assert.equal(walCommits(file) - before, 1, 'one commit for the five claims');
    assert.equal(new Set(claims.map((c) => c?.id)).size, 5, 'five different tasks');
    // Writes one after another still commit one by one.
    await store.workerSeen('w9', NOW + 1);
    await store.claim({ now: NOW + 1, workerId: 'w9', lease: randomUUID(), leaseMs: 60_000 });
    assert.equal(walCommits(file) - before, 3);
  } finally {
    await store.close();
  }
  const check = new Database(file, { readonly: true });
  try {
    const running = check
      .prepare('select lease_owner from tasks where state = ? order by lease_owner')
      .all(TaskState.Running);
    assert.deepEqual(
      running.map((r) => (r as { lease_owner: string }).lease_owner),
      ['w0', 'w1', 'w2', 'w3', 'w4', 'w9'],
    );
  } finally {
    check.close();
    await dir.cleanup();
  }
});

test('a write that fails inside a batch undoes only its own changes, and the others commit', async () => {
  const dir = await tmpDir('avspl1t-batch-');
  const file = path.join(dir.path, 'state.sqlite');
  const store = await openTaskStore(file);
  const id = randomUUID();
  try {
    const [first, second, claim] = await Promise.allSettled([
      store.submit(submission(id, '/out/a'), NOW, policy),
      // The same job id again: it takes its output location, then fails inserting the job.
      store.submit(submission(id, '/out/b'), NOW, policy),
      store.claim({ now: NOW, workerId: 'w1', lease: randomUUID(), leaseMs: 60_000 }),
    ]);
    assert.equal(first.status === 'fulfilled' && first.value.submitted, true);
    assert.equal(second.status, 'rejected');
    assert.equal(claim.status === 'fulfilled' && claim.value?.kind, TaskKind.Split);
    // The store goes on writing after the failure.
    assert.equal((await store.submit(submission(randomUUID(), '/out/c'), NOW, policy)).submitted, true);
  } finally {
    await store.close();
  }
  const check = new Database(file, { readonly: true });
  try {
    const outputs = check.prepare('select location, job_id from outputs order by location').all() as {
      location: string;
      job_id: string;
    }[];
    assert.deepEqual(
      outputs.map((o) => o.location),
      ['/out/a', '/out/c'],
      'the failed submit left no claim on /out/b',
    );
    assert.equal(outputs[0]?.job_id, id);
    assert.deepEqual(check.prepare('select lease_owner, state from tasks where job_id = ?').all(id), [
      { lease_owner: 'w1', state: TaskState.Running },
    ]);
  } finally {
    check.close();
    await dir.cleanup();
  }
});
