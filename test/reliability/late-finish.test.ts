// The paused worker, made deterministic: a worker whose heartbeats stop reaching
// the coordinator (a fake partition: its client fails them) while its encode is
// held, loses the lease; another worker runs the task and the job completes.
// Then the held encode ends and its FinishTask IS sent, and the coordinator
// refuses it (its log line and the worker's accepted=false), the expired run stays
// expired, and the rescuer's result stands. The SIGSTOP test in pause.test.ts
// cannot tell a refused finish from a worker giving up on its own first.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import type { CoordinatorClient } from '../../src/rpc/index.js';
import { connectCoordinator } from '../../src/rpc/index.js';
import { Worker } from '../../src/worker/index.js';
import { startTestCoordinator, waitForJob } from '../coordinator/harness.js';
import { sampleJob } from '../fixtures/messages.js';
import { FakeOperations } from '../worker/fake-operations.js';

/** A client whose heartbeats fail as UNAVAILABLE while `cut()` says so; every other call goes through. */
function partitionedClient(real: CoordinatorClient, cut: () => boolean): CoordinatorClient {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'heartbeat' && cut())
        return async () => {
          throw new ConnectError('fake partition', Code.Unavailable);
        };
      const finishes = prop === 'finishTask';
      const value = Reflect.get(target, prop, receiver);
      if (!finishes || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const res = await value.apply(target, args);
        finishAnswers.push(res.accepted);
        return res;
      };
    },
  });
}
const finishAnswers: boolean[] = [];

test('a late FinishTask from a worker that lost its lease is sent and refused; the re-run result stands', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const t = await startTestCoordinator({ leaseMs: 600, log });
  const handle = connectCoordinator(t.address);
  let partitioned = false;
  let held!: () => void;
  const gate = new Promise<void>((r) => (held = r));
  let startedHeld!: () => void;
  const heldStarted = new Promise<void>((r) => (startedHeld = r));
  const paused = await Worker.start({
    coordinator: partitionedClient(handle.client, () => partitioned),
    id: 'paused',
    tmpRoot: path.join(t.dir.path, 'tmp-paused'),
    heartbeatMs: 50,
    pollWaitMs: 200,
    operations: new FakeOperations({
      pieces: 3,
      onEncode: async (opts) => {
        if (opts.pieces[0]!.index !== 1) return;
        partitioned = true;
        startedHeld();
        await gate; // deaf to the lease: only the test lets it go
      },
    }),
  });
  let rescuer: Worker | undefined;
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    await heldStarted;
    rescuer = await Worker.start({
      coordinator: t.address,
      id: 'rescuer',
      tmpRoot: path.join(t.dir.path, 'tmp-rescuer'),
      heartbeatMs: 50,
      pollWaitMs: 200,
      operations: new FakeOperations({ pieces: 3 }, 'rescuer'),
    });
    const done = await waitForJob(t.client, jobId, 20_000);
    assert.equal(done.state, JobState.SUCCEEDED, done.failureReason);

    const answersBefore = finishAnswers.length;
    held();
    for (let i = 0; i < 200 && finishAnswers.length === answersBefore; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(
      finishAnswers.slice(answersBefore),
      [false],
      'the late finish was sent and answered "not accepted"',
    );
    const ignored = lines.filter((l) => l.includes('finish ignored') && l.includes('"workerId":"paused"'));
    assert.equal(ignored.length, 1, `coordinator log: ${lines.filter((l) => l.includes('finish')).join('')}`);

    const db = new Database(t.dbPath, { readonly: true });
    try {
      const runs = db
        .prepare(
          "SELECT r.worker_id, r.outcome FROM task_runs r JOIN tasks t ON t.id = r.task_id WHERE r.job_id = ? AND t.kind = 'encode' AND t.idx = 1 ORDER BY r.started_at",
        )
        .all(jobId);
      assert.deepEqual(runs, [
        { worker_id: 'paused', outcome: 'expired' },
        { worker_id: 'rescuer', outcome: 'succeeded' },
      ]);
    } finally {
      db.close();
    }
    const after = (await t.client.getJob({ jobId })).job!;
    assert.equal(after.state, JobState.SUCCEEDED);
    assert.equal(after.segmentsDone, 3);
  } finally {
    held();
    await Promise.all([paused.stop(), rescuer?.stop()]);
    handle.close();
    await t.close();
  }
});
