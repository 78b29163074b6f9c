// How a PostgreSQL finish holds its job's row lock: only inside one statement for
// a success that only counts, never while the coordinator works between round
// trips; and the finishes racing each other, a cancel or a job failure still
// leave the job's counts, its tasks and its manifest right.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from '../../src/db/postgres/index.js';
import type { Finished } from '../../src/db/task-store.js';
import type { EncodeJob } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { sampleJob } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';
import {
  claimedJob,
  claimReq,
  jobInDatabase,
  NOW,
  stallingFinish,
  success,
  withDatabase,
} from './finish-fixtures.js';

const server = usePostgres();

/**
 * Deadlocks PostgreSQL has detected in the current database, read once `admin` is
 * its only session: a backend adds what it counted to pg_stat_database lazily, at
 * the latest as it exits (before it leaves pg_stat_activity).
 */
async function deadlocks(admin: pg.Client): Promise<number> {
  for (let polls = 0; ; polls++) {
    const { rows } = await admin.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
    );
    if (rows[0]!.n === 0) break;
    if (polls === 200) throw new Error(`${rows[0]!.n} other sessions of the database still open`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // A fresh snapshot of the statistics, not one this session read before.
  await admin.query('select pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ n: number }>(
    'select deadlocks::int as n from pg_stat_database where datname = current_database()',
  );
  return rows[0]!.n;
}

/** A job with a ladder of two rungs: a task per rung and piece. */
function ladderJob(): EncodeJob {
  const rung = (encoder: string, height: number, kbps: number) => ({
    settings: { encoder, crf: 30, preset: encoder === 'x264' ? 0 : 12 },
    height,
    maxBitrateKbps: kbps,
  });
  return sampleJob('/data', {
    renditions: [rung('svt', 180, 300), rung('x264', 90, 100)] as EncodeJob['renditions'],
  });
}

/** Spins for `ms` without yielding: the coordinator's event loop busy elsewhere. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('PostgreSQL finishes and the job row lock', { timeout: 120_000 }, () => {
  test('a success that only counts holds no lock on its job while the coordinator works between round trips', async () => {
    await withDatabase(server(), async (url, admin) => {
      const store = await openPostgresStore(url);
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        const shape = { pieces: 4 };
        const { jobId, tasks } = await claimedJob(store, shape);
        // Where decide reads the result, after the finish's first round trip, the
        // coordinator stalls, after sending what the server runs meanwhile. Another
        // writer of the job (a cancel, another coordinator) changes the job after
        // 0.1 s, and the server counts the sessions waiting for a lock at 0.3 s.
        let waiting: Promise<unknown> | undefined;
        let otherWrite: Promise<unknown> | undefined;
        const stalling = stallingFinish(success(tasks[0]!, shape), () => {
          otherWrite = other.query(
            `select pg_sleep(0.1); update jobs set updated_at = updated_at where id = '${jobId}'`,
          );
          waiting = admin.query<{ n: number }>(
            "select pg_sleep(0.3); select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock'",
          );
          busy(600);
        });
        const finishing = store.finish(stalling.finish);
        stalling.sent();
        const done = await finishing;
        assert.ok(stalling.stalled(), 'the finish read the result after its first round trip');
        assert.equal(done.status, 'accepted');
        const answers = (await waiting) as pg.QueryResult<{ n: number }>[];
        await otherWrite;
        assert.equal(
          answers.at(-1)!.rows[0]!.n,
          0,
          'sessions waiting for a lock while the coordinator stalled',
        );
        const job = await jobInDatabase(admin, jobId);
        assert.equal(job.segments_done, 1);
      } finally {
        await other.end();
        await store.close();
      }
    });
  });

  for (const [name, shape, rounds] of [
    ['', { pieces: 16 }, 8],
    [' with audio (its task among the encodes)', { pieces: 16, hasAudio: true }, 4],
    [' of a 2-rung ladder', { pieces: 8, job: ladderJob() }, 4],
  ] as const) {
    test(`many successes of one job${name} at once: each counted once, one manifest, every time`, async () => {
      await withDatabase(server(), async (url, admin) => {
        const store = await openPostgresStore(url);
        try {
          for (let round = 0; round < rounds; round++) {
            const { jobId, tasks } = await claimedJob(store, shape);
            // Half of them also claim their worker's next task, as a worker asking for more does.
            const done = await Promise.all(
              tasks.map((t, i) =>
                store.finish(success(t, shape, i % 2 ? { next: claimReq(t.lease_owner!) } : {})),
              ),
            );
            assert.ok(done.every((d) => d.status === 'accepted'));
            const job = await jobInDatabase(admin, jobId);
            const encodes = tasks.filter((t) => t.kind === 'encode').length;
            assert.equal(tasks.length, encodes + (shape.hasAudio ? 1 : 0), 'every task claimed');
            assert.equal(job.segments_total, encodes);
            assert.equal(job.count('encode', 'succeeded'), encodes);
            assert.equal(job.count('audio', 'succeeded'), shape.hasAudio ? 1 : 0);
            // An encode here makes one segment (of one piece in one rung).
            assert.equal(
              job.segments_done,
              job.count('encode', 'succeeded'),
              `round ${round}: segments_done`,
            );
            assert.equal(job.audio_done, job.count('audio', 'succeeded'), `round ${round}: audio_done`);
            assert.equal(job.succeededRuns('encode'), encodes, 'one succeeded run per encode');
            assert.equal(job.succeededRuns('audio'), job.count('audio', 'succeeded'));
            assert.equal(job.count('manifest'), 1, `round ${round}: manifest tasks`);
            // The manifest was either claimed by one of those finishes or waits in the queue.
            const claimed = done.filter((d) => d.status === 'accepted' && d.next).length;
            assert.equal(job.openRuns, claimed, `round ${round}: open runs are the claims made`);
            const counts = done
              .filter((_, i) => tasks[i]!.kind === 'encode')
              .map((d) => (d as Extract<Finished, { status: 'accepted' }>).counts.segments_done);
            assert.deepEqual(
              [...counts].sort((a, b) => a - b),
              Array.from({ length: encodes }, (_, i) => i + 1),
              'each encode saw the count it made',
            );
            // Out of the next round's way.
            await admin.query(
              "update tasks set state = 'cancelled' where job_id = $1 and state in ('queued', 'running')",
              [jobId],
            );
          }
        } finally {
          await store.close();
        }
      });
    });
  }

  test('a cancel or a job failure among many successes: no deadlock, no count lost, a manifest task only when the encodes completed first', async () => {
    await withDatabase(server(), async (url, admin) => {
      const before = await deadlocks(admin);
      const store = await openPostgresStore(url);
      try {
        let completedBeforeCancel = 0;
        for (let round = 0; round < 8; round++) {
          const pieces = 17;
          const shape = { pieces };
          const { jobId, tasks: encodes } = await claimedJob(store, shape);
          const failing = round % 2 === 1;
          let ends: Promise<Finished | string>[];
          if (failing) {
            // In the middle of the others' successes, a permanent failure of the job's last encode.
            const last = encodes.pop()!;
            ends = encodes.map((e) => store.finish(success(e, shape)));
            const failure = store.finish({
              ...success(last, shape),
              outcome: { kind: 'failed', reason: 'bad input', transient: false },
            });
            ends.splice(8, 0, failure);
          } else {
            // Every encode succeeds, and the cancel goes out once `cancelAfter` of them
            // answered: at once, midway, just before the last, after all of them.
            const cancelAfter = [0, 8, 16, 17][round / 2]!;
            let cancel: Promise<string> | undefined;
            const startCancel = () => {
              cancel ??= store.cancelJob(jobId, NOW);
              return cancel;
            };
            let answered = 0;
            ends = encodes.map((e) =>
              store.finish(success(e, shape)).then((d) => {
                if (++answered === cancelAfter) startCancel();
                return d;
              }),
            );
            if (cancelAfter === 0) startCancel();
            ends.splice(8, 0, Promise.all(ends).then(startCancel));
          }
          const done = await Promise.all(ends);
          const job = await jobInDatabase(admin, jobId);
          assert.equal(job.state, failing ? 'failed' : 'cancelled', `round ${round}`);
          // Every counted success is a succeeded task, and every other encode was stopped.
          assert.equal(job.segments_done, job.count('encode', 'succeeded'), `round ${round}: segments_done`);
          assert.equal(
            job.count('encode', 'succeeded') +
              job.count('encode', 'cancelled') +
              job.count('encode', 'failed'),
            pieces,
          );
          assert.equal(job.openRuns, 0, `round ${round}: open runs`);
          // The success that completes the encodes makes the manifest task while the
          // job runs: there is one exactly when every encode was counted before the
          // cancel applied (then the cancel cancelled it), never after a failure.
          const completed = job.segments_done === pieces;
          assert.equal(job.count('manifest'), completed ? 1 : 0, `round ${round}: manifest tasks`);
          assert.equal(job.count('manifest', 'cancelled'), job.count('manifest'));
          if (completed) completedBeforeCancel++;
          const accepted = done.filter((d, i) => i !== 8 && typeof d === 'object' && d.status === 'accepted');
          // A success accepted after the job ended is recorded as a cancel (decide), not counted.
          const counted = accepted.filter(
            (d) => (d as Extract<Finished, { status: 'accepted' }>).effects.task.state === 'succeeded',
          );
          assert.equal(counted.length, job.segments_done, `round ${round}: accepted successes`);
        }
        // The cancel after every answer comes after the encodes completed.
        assert.ok(completedBeforeCancel >= 1, 'a round where the encodes completed before the cancel');
      } finally {
        await store.close();
      }
      assert.equal(await deadlocks(admin), before, 'deadlocks detected');
    });
  });
});
