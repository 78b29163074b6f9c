// The PostgreSQL TaskStore driven directly (no coordinator): a job from submit
// to success through claims and finishes, the lease checks of a finish, and what
// the database holds afterwards (read with a plain pg client).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { describe, test } from 'node:test';
import pg from 'pg';
import { taskMessage } from '../../src/coordinator/codec.js';
import type { Policy } from '../../src/coordinator/decide.js';
import { orderedId } from '../../src/db/ids.js';
import { openPostgresStore } from '../../src/db/postgres/index.js';
import type { ClaimedRow } from '../../src/db/schema.js';
import type { Finish, TaskStore } from '../../src/db/task-store.js';
import { resultFor, sampleJob } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';
import { commitCuttingProxy } from './commit-cutting-proxy.js';

const NOW = 1_900_000_000_000;
const LEASE_MS = 10_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };

async function sql<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

function claimReq(workerId: string, now = NOW) {
  return { now, workerId, lease: orderedId(), leaseMs: LEASE_MS };
}

/** A successful finish of `row` as its worker would report it. */
function success(row: ClaimedRow, pieces: number, extra: Partial<Finish> = {}): Finish {
  const result = resultFor(taskMessage(row, LEASE_MS), pieces);
  return {
    taskId: row.id,
    lease: row.lease!,
    workerId: row.lease_owner!,
    now: NOW,
    outcome: { kind: 'succeeded', result },
    policy,
    ...extra,
  };
}

async function submit(store: TaskStore): Promise<string> {
  const id = randomUUID();
  const job = sampleJob();
  const res = await store.submit(
    { id, job, location: `/out/${id}`, overwrite: false, earlierFiles: false },
    NOW,
    policy,
  );
  assert.equal(res.submitted, true);
  return id;
}

/**
 * A TCP proxy to PostgreSQL counting round trips: each time the client sends
 * after the server last did (the client was waiting for a reply) is one more.
 */
async function roundTripCounter(port: number) {
  let trips = 0;
  let serverSpoke = true;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) s.on('error', () => {});
    client.on('data', (chunk: Buffer) => {
      if (serverSpoke) trips++;
      serverSpoke = false;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      serverSpoke = true;
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Round trips made by `fn`. */
    async count(fn: () => Promise<unknown>): Promise<number> {
      trips = 0;
      serverSpoke = true;
      await fn();
      return trips;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const server = usePostgres();

describe('the PostgreSQL task store', { timeout: 60_000 }, () => {
  test('a job runs from submit to success: split, encodes (each finish claiming the next), manifest', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const store = await openPostgresStore(url);
    try {
      const jobId = await submit(store);
      const split = await store.claim(claimReq('w1'));
      assert.equal(split?.kind, 'split');
      assert.equal((await store.getJob(jobId))?.job.state, 'running', 'claiming the split starts the job');
      const done = await store.finish(success(split!, 3, { next: claimReq('w1') }));
      assert.equal(done.status, 'accepted');
      if (done.status !== 'accepted') return;
      assert.equal(done.counts.segments_total, 3);
      assert.equal(done.next?.kind, 'encode', 'the next claim sees the tasks this finish made');
      let next: ClaimedRow | undefined = done.next;
      const counts: number[] = [];
      while (next?.kind === 'encode') {
        const f = await store.finish(success(next, 3, { next: claimReq('w1') }));
        assert.equal(f.status, 'accepted');
        if (f.status !== 'accepted') return;
        counts.push(f.counts.segments_done);
        next = f.next;
      }
      assert.deepEqual(counts, [1, 2, 3]);
      assert.equal(next?.kind, 'manifest', 'the last encode made the manifest task and claimed it');
      const last = await store.finish(success(next!, 3));
      assert.equal(last.status, 'accepted');
      const rows = await sql<{ state: string; segments_done: number; finished: boolean }>(
        url,
        'SELECT state, segments_done, finished_at IS NOT NULL AS finished FROM jobs WHERE id = $1',
        [jobId],
      );
      assert.deepEqual(rows, [{ state: 'succeeded', segments_done: 3, finished: true }]);
      const runs = await sql<{ outcome: string; n: number }>(
        url,
        'SELECT outcome, count(*)::int AS n FROM task_runs WHERE job_id = $1 GROUP BY outcome',
        [jobId],
      );
      assert.deepEqual(runs, [{ outcome: 'succeeded', n: 5 }]);
    } finally {
      await store.close();
    }
  });

  test('a finish under a lease not held changes nothing: another lease, a late one, a duplicate', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const store = await openPostgresStore(url);
    try {
      await submit(store);
      const split = (await store.claim(claimReq('w1')))!;
      assert.equal((await store.finish(success(split, 3, { lease: orderedId() }))).status, 'lease-lost');
      assert.equal((await store.finish(success(split, 3, { workerId: 'w2' }))).status, 'lease-lost');
      assert.equal(
        (await store.finish(success(split, 3, { now: NOW + LEASE_MS + 1 }))).status,
        'lease-lost',
        'an expired lease',
      );
      assert.equal((await store.finish(success(split, 3))).status, 'accepted');
      assert.equal((await store.finish(success(split, 3))).status, 'lease-lost', 'a duplicate');
      assert.equal((await store.finish(success(split, 3, { taskId: randomUUID() }))).status, 'not-found');
      const [{ n }] = await sql<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM tasks WHERE kind = 'encode'",
      );
      assert.equal(n, 3, 'the split made its encodes once');
    } finally {
      await store.close();
    }
  });

  test('a finish whose COMMIT reply is lost is run again and answered accepted, with the next task it claimed', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const proxy = await commitCuttingProxy(server().port);
    const store = await openPostgresStore(url.replace(`:${server().port}/`, `:${proxy.port}/`));
    try {
      const jobId = await submit(store);
      const split = (await store.claim(claimReq('w1')))!;
      proxy.arm(split.lease!);
      const want = claimReq('w1');
      const done = await store.finish(success(split, 3, { next: want }));
      assert.equal(proxy.cuts(), 1, 'the first try committed with its reply cut off');
      assert.equal(done.status, 'accepted', 'the retry finds its own finish');
      if (done.status !== 'accepted') return;
      assert.equal(done.next?.kind, 'encode');
      assert.equal(done.next?.lease, want.lease, 'the task the first try claimed, not a second one');
      const runs = await sql<{ kind: string; outcome: string | null }>(
        url,
        'SELECT t.kind, r.outcome FROM task_runs r JOIN tasks t ON t.id = r.task_id WHERE r.job_id = $1 ORDER BY r.started_at',
        [jobId],
      );
      assert.deepEqual(runs, [
        { kind: 'split', outcome: 'succeeded' },
        { kind: 'encode', outcome: null },
      ]);
      const [{ n }] = await sql<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM tasks WHERE kind = 'encode'",
      );
      assert.equal(n, 3, 'the encodes were made once');
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  test('an encode success whose COMMIT reply is lost is run again, counted once and answered with its claim', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const proxy = await commitCuttingProxy(server().port);
    const store = await openPostgresStore(url.replace(`:${server().port}/`, `:${proxy.port}/`));
    try {
      const jobId = await submit(store);
      const split = (await store.claim(claimReq('w1')))!;
      const first = await store.finish(success(split, 3, { next: claimReq('w1') }));
      const encode = first.status === 'accepted' ? first.next! : split;
      assert.equal(encode.kind, 'encode');
      proxy.arm(encode.lease!);
      const want = claimReq('w1');
      const done = await store.finish(success(encode, 3, { next: want }));
      assert.equal(proxy.cuts(), 1, 'the first try committed with its reply cut off');
      assert.equal(done.status, 'accepted', 'the retry finds its own finish');
      if (done.status !== 'accepted') return;
      assert.equal(done.next?.lease, want.lease, 'the task the first try claimed, not a second one');
      const [job] = await sql<{ segments_done: number }>(
        url,
        'SELECT segments_done FROM jobs WHERE id = $1',
        [jobId],
      );
      assert.equal(job?.segments_done, 1, 'counted once');
      const runs = await sql<{ n: number }>(
        url,
        'SELECT count(*)::int AS n FROM task_runs WHERE job_id = $1 AND ended_at IS NULL',
        [jobId],
      );
      assert.equal(runs[0]?.n, 1, 'one run open: the claimed task');
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  test('a finish chosen as a deadlock victim is run again and recorded once', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const store = await openPostgresStore(url);
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      const jobId = await submit(store);
      const split = (await store.claim(claimReq('w1')))!;
      // The blocker waits long before looking for deadlocks: the finish's session finds it and is the victim.
      await blocker.query("SET deadlock_timeout = '60s'");
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM tasks WHERE id = $1 FOR UPDATE', [split.id]);
      const finish = store.finish(success(split, 3));
      const blockerPid = (await blocker.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
      let waiting = 0;
      for (let i = 0; i < 200 && waiting === 0; i++) {
        const rows = await sql<{ n: number }>(
          url,
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1",
          [blockerPid],
        );
        waiting = rows[0]!.n;
        if (waiting === 0) await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(waiting, 1, 'the finish holds the job and waits for the task');
      // Now the blocker wants the job: a cycle. It gets the job only once the finish's first
      // try was rolled back (it cannot commit while it waits for the task).
      await blocker.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE', [jobId]);
      await blocker.query('ROLLBACK');
      const done = await finish;
      assert.equal(done.status, 'accepted');
      const [{ n }] = await sql<{ n: number }>(
        url,
        "SELECT count(*)::int AS n FROM tasks WHERE kind = 'encode'",
      );
      assert.equal(n, 3, 'the encodes were made once');
      const runs = await sql<{ outcome: string }>(url, 'SELECT outcome FROM task_runs WHERE task_id = $1', [
        split.id,
      ]);
      assert.deepEqual(runs, [{ outcome: 'succeeded' }]);
    } finally {
      await blocker.end().catch(() => {});
      await store.close();
    }
  });

  test('a claim is one round trip, a heartbeat one, and a finish that claims the next task two', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const counter = await roundTripCounter(server().port);
    // One connection, so every call shows on the same wire.
    const store = await openPostgresStore(url.replace(`:${server().port}/`, `:${counter.port}/`), {
      poolSize: 1,
    });
    try {
      await submit(store);
      const split = (await store.claim(claimReq('w1')))!;
      const first = await store.finish(success(split, 4, { next: claimReq('w1') }));
      assert.equal(first.status === 'accepted' && first.next?.kind, 'encode');
      const encode = first.status === 'accepted' ? first.next! : split;
      let claimed: ClaimedRow | undefined;
      const trips = {
        claim: await counter.count(async () => {
          claimed = await store.claim(claimReq('w2'));
        }),
        heartbeat: await counter.count(() =>
          store.heartbeat({
            taskId: encode.id,
            lease: encode.lease!,
            workerId: 'w1',
            progress: 0.5,
            now: NOW,
            leaseMs: LEASE_MS,
          }),
        ),
        finish: await counter.count(() => store.finish(success(encode, 4, { next: claimReq('w1') }))),
      };
      assert.equal(claimed?.kind, 'encode');
      assert.deepEqual(trips, { claim: 1, heartbeat: 1, finish: 2 });
    } finally {
      await store.close();
      await counter.close();
    }
  });

  test('a claim whose reply is lost after it committed is answered with the task it leased', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const proxy = await commitCuttingProxy(server().port);
    const store = await openPostgresStore(url.replace(`:${server().port}/`, `:${proxy.port}/`));
    try {
      const jobId = await submit(store);
      const req = claimReq('w1');
      proxy.arm(req.lease);
      const split = await store.claim(req);
      assert.equal(proxy.cuts(), 1, 'the claim committed with its reply cut off');
      assert.equal(split?.kind, 'split');
      assert.equal(split?.lease, req.lease);
      const runs = await sql<{ lease: string }>(url, 'SELECT lease FROM task_runs WHERE job_id = $1', [
        jobId,
      ]);
      assert.deepEqual(runs, [{ lease: req.lease }], 'one claim, not two');
    } finally {
      await store.close();
      await proxy.close();
    }
  });

  test('a submit whose COMMIT reply is lost is answered submitted, not refused by its own job', async () => {
    const url = await server().createDatabase(`t_${randomUUID().replaceAll('-', '')}`);
    const proxy = await commitCuttingProxy(server().port);
    const store = await openPostgresStore(url.replace(`:${server().port}/`, `:${proxy.port}/`));
    try {
      const id = randomUUID();
      proxy.arm(id);
      const res = await store.submit(
        { id, job: sampleJob(), location: `/out/${id}`, overwrite: false, earlierFiles: false },
        NOW,
        policy,
      );
      assert.equal(proxy.cuts(), 1, 'the submit committed with its reply cut off');
      assert.deepEqual(res, { submitted: true, replacedJobId: undefined });
      const jobs = await sql<{ id: string }>(url, 'SELECT id FROM jobs');
      assert.deepEqual(jobs, [{ id }]);
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
