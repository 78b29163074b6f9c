// Test helper for the store suites: a job submitted and its split finished, so its encode tasks exist.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Policy } from '../../src/coordinator/decide.js';
import { TaskKind, type TaskStore } from '../../src/db/index.js';
import type { EncodeJob } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { splitResult } from '../fixtures/messages.js';

/** Submits `job`, claims its split and finishes it with `pieces` pieces of a 320x180 source; returns the job id. */
export async function splitJob(
  store: TaskStore,
  job: EncodeJob,
  pieces: number,
  now: number,
  policy: Policy,
): Promise<string> {
  const id = randomUUID();
  const sub = { id, job, location: `/out/${id}`, overwrite: false, earlierFiles: false };
  assert.equal((await store.submit(sub, now, policy)).submitted, true);
  const lease = randomUUID();
  const split = await store.claim({ now, workerId: 'w', lease, leaseMs: 60_000 });
  assert.equal(split?.kind, TaskKind.Split);
  const finished = await store.finish({
    taskId: split.id,
    lease,
    workerId: 'w',
    now: now + 1,
    outcome: { kind: 'succeeded', result: { case: 'split', value: splitResult(pieces) } },
    policy,
  });
  assert.equal(finished.status, 'accepted');
  return id;
}
