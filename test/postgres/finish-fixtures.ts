// What the PostgreSQL finish tests share: a database of their own, a job whose
// tasks are claimed and finished as workers would, what the database holds of
// it, and a finish that stops its coordinator between two of its steps.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { taskMessage } from '../../src/coordinator/codec.js';
import type { Policy, TaskOutcome } from '../../src/coordinator/decide.js';
import { orderedId } from '../../src/db/ids.js';
import type { ClaimedRow } from '../../src/db/schema.js';
import type { Finish, TaskStore } from '../../src/db/task-store.js';
import type { EncodeJob } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { resultFor, sampleJob } from '../fixtures/messages.js';
import type { PostgresServer } from '../helpers/postgres.js';

export const NOW = 1_900_000_000_000;
export const LEASE_MS = 60_000;
export const BACKOFF_MS = 1000;
export const policy: Policy = { maxAttempts: 3, backoffMs: () => BACKOFF_MS };

export const claimReq = (workerId: string) => ({
  now: NOW,
  workerId,
  lease: orderedId(),
  leaseMs: LEASE_MS,
});

/** A job's shape: how many pieces its split makes, whether its source has audio, its ladder. */
export interface JobShape {
  pieces: number;
  hasAudio?: boolean;
  job?: EncodeJob;
}

/**
 * A job split as `shape` says, and its first `claimed` encode or audio tasks (all by
 * default) claimed, in claim order, by workers w0, w1, ...
 */
export async function claimedJob(
  store: TaskStore,
  shape: JobShape,
  claimed = Number.POSITIVE_INFINITY,
): Promise<{ jobId: string; tasks: ClaimedRow[] }> {
  const jobId = randomUUID();
  const sub = {
    id: jobId,
    job: shape.job ?? sampleJob(),
    location: `/out/${jobId}`,
    overwrite: false,
    earlierFiles: false,
  };
  assert.equal((await store.submit(sub, NOW, policy)).submitted, true);
  const split = (await store.claim(claimReq('splitter')))!;
  assert.equal((await store.finish(success(split, shape))).status, 'accepted');
  const tasks: ClaimedRow[] = [];
  while (tasks.length < claimed) {
    const task = await store.claim(claimReq(`w${tasks.length}`));
    if (!task) break;
    tasks.push(task);
  }
  assert.ok(tasks.every((t) => t.kind === 'encode' || t.kind === 'audio'));
  return { jobId, tasks };
}

/** A successful finish of `row` as its worker would report it. */
export function success(row: ClaimedRow, shape: JobShape, extra: Partial<Finish> = {}): Finish {
  const result = resultFor(taskMessage(row, LEASE_MS), shape.pieces, shape.hasAudio);
  const outcome: TaskOutcome = { kind: 'succeeded', result };
  return {
    taskId: row.id,
    lease: row.lease!,
    workerId: row.lease_owner!,
    now: NOW,
    outcome,
    policy,
    ...extra,
  };
}

/**
 * `f` with a result that runs `stall` (once) where decide reads it: the first read
 * of it after `sent()`, which the test calls when store.finish has returned (the
 * finish reads the result's kind before its first round trip, decide after it).
 */
export function stallingFinish(
  f: Finish,
  stall: () => void,
): { finish: Finish; sent: () => void; stalled: () => boolean } {
  assert.equal(f.outcome.kind, 'succeeded');
  const result = (f.outcome as Extract<TaskOutcome, { kind: 'succeeded' }>).result;
  let sent = false;
  let stalled = false;
  const outcome = {
    kind: 'succeeded' as const,
    get result() {
      if (sent && !stalled) {
        stalled = true;
        stall();
      }
      return result;
    },
  };
  return {
    finish: { ...f, outcome },
    sent: () => {
      sent = true;
    },
    stalled: () => stalled,
  };
}

/** Runs `fn` on a database of its own in `server`, with an admin connection to it. */
export async function withDatabase(
  server: PostgresServer,
  fn: (url: string, admin: pg.Client) => Promise<void>,
): Promise<void> {
  const url = await server.createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await fn(url, admin);
  } finally {
    await admin.end();
  }
}

/** What the database holds of a job: its state and counts, and its tasks' states by kind. */
export async function jobInDatabase(admin: pg.Client, jobId: string) {
  const { rows: jobs } = await admin.query<{
    state: string;
    segments_done: number;
    segments_total: number;
    audio_done: number;
  }>('select state, segments_done, segments_total, audio_done from jobs where id = $1', [jobId]);
  const { rows: tasks } = await admin.query<{ kind: string; state: string; n: number }>(
    'select kind, state, count(*)::int as n from tasks where job_id = $1 group by kind, state',
    [jobId],
  );
  const count = (kind: string, state?: string) =>
    tasks.filter((t) => t.kind === kind && (!state || t.state === state)).reduce((a, t) => a + t.n, 0);
  const { rows: open } = await admin.query<{ n: number }>(
    'select count(*)::int as n from task_runs where job_id = $1 and ended_at is null',
    [jobId],
  );
  const { rows: runs } = await admin.query<{ kind: string; n: number }>(
    'select t.kind, count(*)::int as n from task_runs r join tasks t on t.id = r.task_id ' +
      "where r.job_id = $1 and r.outcome = 'succeeded' group by t.kind",
    [jobId],
  );
  const succeededRuns = (kind: string) => runs.find((r) => r.kind === kind)?.n ?? 0;
  return { ...jobs[0]!, count, openRuns: open[0]!.n, succeededRuns };
}

/** Leases of the running tasks in the database. */
export async function runningLeases(admin: pg.Client): Promise<string[]> {
  const { rows } = await admin.query<{ lease: string }>("select lease from tasks where state = 'running'");
  return rows.map((r) => r.lease);
}
