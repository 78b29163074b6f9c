// How the task runner stops an operation: its task timeout fires (the operation
// is aborted and a transient "timed out" failure is reported), or a heartbeat
// says the lease is gone (the operation is aborted and nothing is reported: the
// task belongs to someone else now). Fake operations and a fake coordinator
// client that records every call; no network, no ffmpeg.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import {
  type FinishTaskRequest,
  type HeartbeatRequest,
  type Task,
  TaskSchema,
} from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { silentLogger } from '../../src/log.js';
import type { CoordinatorClient } from '../../src/rpc/index.js';
import { folderAt, Storage } from '../../src/storage/index.js';
import { runTask } from '../../src/worker/run-task.js';
import { tmpDir } from '../helpers/tmp.js';
import { FakeOperations, untilAborted } from './fake-operations.js';

/** A fake coordinator client: heartbeats answered by `leaseValid(n)`, finishes recorded. */
function fakeClient(leaseValid: (beat: number) => boolean) {
  const calls = { heartbeats: [] as HeartbeatRequest[], finishes: [] as FinishTaskRequest[] };
  const client = {
    heartbeat: async (req: HeartbeatRequest) => {
      calls.heartbeats.push(req);
      return { leaseValid: leaseValid(calls.heartbeats.length), cancelled: false };
    },
    finishTask: async (req: FinishTaskRequest) => {
      calls.finishes.push(req);
      return { accepted: true };
    },
  };
  return { client: client as unknown as CoordinatorClient, calls };
}

function encodeTask(timeoutSeconds: number): Task {
  return create(TaskSchema, {
    id: 't1',
    jobId: 'j1',
    lease: 'lease-1',
    attempt: 1,
    timeoutSeconds,
    heartbeatIntervalMs: 20,
    kind: {
      case: 'encode',
      value: {
        pieces: [{ index: 0 }],
        source: {},
        output: folderAt('/nowhere'),
        settings: { encoder: 'svt' },
      },
    },
  });
}

/** Runs `task` with an encode that hangs until aborted; reports what the runner did. */
async function runHanging(task: Task, leaseValid: (beat: number) => boolean) {
  const dir = await tmpDir('avspl1t-run-task-');
  const { client, calls } = fakeClient(leaseValid);
  let aborted: unknown;
  let taskDir = '';
  const operations = new FakeOperations({
    onEncode: async (_opts, ctx) => {
      taskDir = ctx.tmpDir;
      await untilAborted(ctx.signal).catch((err) => {
        aborted = ctx.signal?.reason;
        throw err;
      });
    },
  });
  const started = Date.now();
  try {
    const next = await runTask(
      {
        client,
        workerId: 'w1',
        operations,
        storage: new Storage(),
        tmpRoot: path.join(dir.path, 'tmp'),
        heartbeatMs: 20,
        log: silentLogger,
        giveBack: new AbortController().signal,
      },
      task,
    );
    return { next, calls, aborted, taskDir, ms: Date.now() - started };
  } finally {
    await dir.cleanup();
  }
}

test('a task running past its timeout is aborted and reported as a transient "timed out" failure', {
  timeout: 15_000,
}, async () => {
  const r = await runHanging(encodeTask(1), () => true);
  assert.ok(r.aborted, 'the operation was aborted');
  assert.match(String(r.aborted), /timeout/);
  assert.ok(r.ms >= 1000 && r.ms < 5000, `stopped after ${r.ms} ms`);
  assert.equal(r.calls.finishes.length, 1);
  const finish = r.calls.finishes[0]!;
  assert.equal(finish.lease, 'lease-1');
  assert.equal(finish.result.case, 'failure');
  assert.deepEqual(
    finish.result.case === 'failure'
      ? [finish.result.value.reason, finish.result.value.transient, finish.result.value.released]
      : [],
    ['timed out after 1 s', true, false],
  );
  assert.ok(r.calls.heartbeats.length > 0, 'the lease was kept alive meanwhile');
  assert.equal(existsSync(r.taskDir), false, 'temp dir removed');
});

test('a heartbeat answered "lease not valid" aborts the operation and reports nothing', {
  timeout: 15_000,
}, async () => {
  const r = await runHanging(encodeTask(0), (beat) => beat < 3);
  assert.ok(r.aborted, 'the operation was aborted');
  assert.match(String(r.aborted), /lease-lost/);
  assert.equal(r.calls.heartbeats.length, 3, 'stopped at the beat that said so');
  assert.deepEqual(r.calls.finishes, [], 'no finish for a task that is no longer ours');
  assert.equal(r.next, undefined);
  assert.equal(existsSync(r.taskDir), false, 'temp dir removed');
});
