// Workers against a real coordinator over gRPC, with fake media operations:
// the whole job flow, failures, cancellation through the AbortSignal, shutdown.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { invalidInput, transient } from '../../src/errors.js';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { beatDelay } from '../../src/worker/heartbeat.js';
import { Worker, type WorkerOptions } from '../../src/worker/index.js';
import { startTestCoordinator, type TestCoordinator, waitForJob } from '../coordinator/harness.js';
import { sampleJob } from '../fixtures/messages.js';
import { type FakeCall, FakeOperations, untilAborted } from './fake-operations.js';

function startWorker(t: TestCoordinator, options: Partial<WorkerOptions>): Promise<Worker> {
  return Worker.start({
    coordinator: t.address,
    tmpRoot: path.join(t.dir.path, 'tmp'),
    heartbeatMs: 50,
    pollWaitMs: 1000,
    ...options,
  });
}

test('two workers run a whole job and share its tasks; temp dirs are private and removed', async () => {
  const t = await startTestCoordinator();
  const calls: FakeCall[] = [];
  const slow = () => new Promise<void>((r) => setTimeout(r, 30));
  const a = await startWorker(t, {
    id: 'a',
    operations: new FakeOperations({ pieces: 8, hasAudio: true, onEncode: slow }, 'a', calls),
  });
  const b = await startWorker(t, {
    id: 'b',
    operations: new FakeOperations({ pieces: 8, hasAudio: true, onEncode: slow }, 'b', calls),
  });
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    const job = await waitForJob(t.client, jobId);
    assert.equal(job.state, JobState.SUCCEEDED, job.failureReason);
    assert.equal(job.segmentsDone, 8);
    const encodes = calls.filter((c) => c.kind === 'encode');
    assert.deepEqual(
      encodes.map((c) => c.index).sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7],
      'every segment encoded exactly once',
    );
    assert.ok(new Set(encodes.map((c) => c.by)).size === 2, 'both workers encoded');
    assert.equal(new Set(calls.map((c) => c.tmpDir)).size, calls.length, 'one temp dir per task');
    assert.ok(
      calls.every((c) => !existsSync(c.tmpDir)),
      'temp dirs removed',
    );
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await t.close();
  }
});

test('a failing operation fails the job with its reason, and the worker keeps serving', async () => {
  const t = await startTestCoordinator();
  let failNext = true;
  const ops = new FakeOperations({
    onEncode: (opts) => {
      if (failNext && opts.pieces[0]!.index === 1) {
        failNext = false;
        throw invalidInput('unsupported stream: pixel format yuv444p12le');
      }
    },
  });
  const w = await startWorker(t, { operations: ops });
  try {
    const first = await t.client.submitJob({ job: sampleJob() });
    const failed = await waitForJob(t.client, first.jobId);
    assert.equal(failed.state, JobState.FAILED);
    assert.equal(failed.failureReason, 'encode 1 failed: unsupported stream: pixel format yuv444p12le');
    const second = await t.client.submitJob({ job: sampleJob() });
    assert.equal((await waitForJob(t.client, second.jobId)).state, JobState.SUCCEEDED);
  } finally {
    await w.stop();
    await t.close();
  }
});

test('a transient failure is retried and the job completes, with the retry visible', async () => {
  const t = await startTestCoordinator({ backoffBaseMs: 10 });
  let failures = 0;
  const ops = new FakeOperations({
    onEncode: (opts) => {
      if (opts.pieces[0]!.index === 2 && failures++ === 0) throw transient('storage answered 503');
    },
  });
  const w = await startWorker(t, { operations: ops });
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    const job = await waitForJob(t.client, jobId);
    assert.equal(job.state, JobState.SUCCEEDED);
    assert.deepEqual(
      job.tasks.map((s) => [s.kind, s.index, s.attempts, s.lastError]),
      [['encode', 2, 2, 'storage answered 503']],
    );
  } finally {
    await w.stop();
    await t.close();
  }
});

test('cancelling a job aborts the running operation through its AbortSignal', async () => {
  const t = await startTestCoordinator();
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let aborted = false;
  const ops = new FakeOperations({
    onEncode: async (_opts, ctx) => {
      started();
      await untilAborted(ctx.signal).catch((err) => {
        aborted = true;
        throw err;
      });
    },
  });
  const w = await startWorker(t, { operations: ops });
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    await running;
    const t0 = Date.now();
    await t.client.cancelJob({ jobId });
    while (!aborted && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    assert.ok(aborted, 'the operation was aborted');
    assert.ok(Date.now() - t0 < 1000, `abort took ${Date.now() - t0} ms`);
    assert.equal((await t.client.getJob({ jobId })).job?.state, JobState.CANCELLED);
  } finally {
    await w.stop();
    await t.close();
  }
});

test('stop() lets a running task finish; stop({ giveBack }) hands it to another worker', async () => {
  const t = await startTestCoordinator();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const calls: FakeCall[] = [];
  const patient = new FakeOperations({ pieces: 1, onEncode: () => gate }, 'patient', calls);
  const w1 = await startWorker(t, { id: 'w1', operations: patient });
  try {
    const first = await t.client.submitJob({ job: sampleJob() });
    while (!calls.some((c) => c.kind === 'encode')) await new Promise((r) => setTimeout(r, 10));
    const stopping = w1.stop();
    release();
    await stopping;
    const job = (await t.client.getJob({ jobId: first.jobId })).job!;
    assert.equal(job.segmentsDone, 1, 'the running encode was finished and reported');

    // Hard stop: the hung encode is aborted and given back; another worker completes it.
    const hung = new FakeOperations(
      { pieces: 1, onEncode: (_o, ctx) => untilAborted(ctx.signal) },
      'hung',
      calls,
    );
    const w2 = await startWorker(t, { id: 'w2', operations: hung });
    const second = await t.client.submitJob({ job: sampleJob() });
    while (!calls.some((c) => c.kind === 'encode' && c.by === 'hung'))
      await new Promise((r) => setTimeout(r, 10));
    await w2.stop({ giveBack: true });
    const w3 = await startWorker(t, { id: 'w3', operations: new FakeOperations({ pieces: 1 }, 'w3', calls) });
    const done = await waitForJob(t.client, second.jobId);
    await w3.stop();
    assert.equal(done.state, JobState.SUCCEEDED);
    assert.deepEqual(done.tasks, [], 'a given-back task does not count as a retry');
  } finally {
    await w1.stop();
    await t.close();
  }
});

test('a worker starting up removes temp dirs that dead workers left behind', async () => {
  const t = await startTestCoordinator();
  const root = path.join(t.dir.path, 'tmp');
  // pid 2^22+1 is above Linux's pid_max: certainly not running.
  await mkdir(path.join(root, 'task-4194305-abc123', 'nested'), { recursive: true });
  await mkdir(path.join(root, `task-${process.pid}-live`), { recursive: true });
  const w = await startWorker(t, { operations: new FakeOperations() });
  try {
    assert.deepEqual(await readdir(root), [`task-${process.pid}-live`]);
  } finally {
    await w.stop();
    await t.close();
  }
});

test('a worker keeps polling while the coordinator is down and resumes when it is back', async () => {
  const t = await startTestCoordinator();
  const [host, port] = [t.address.split(':')[0], t.address.split(':')[1]];
  await t.running.close();
  const w = await startWorker(t, { operations: new FakeOperations({ pieces: 2 }) });
  const { startCoordinator } = await import('../../src/coordinator/index.js');
  await new Promise((r) => setTimeout(r, 300));
  const again = await startCoordinator({ listen: `${host}:${port}`, db: t.dbPath, pollIntervalMs: 50 });
  try {
    const { connectCoordinator } = await import('../../src/rpc/index.js');
    const c = connectCoordinator(again.address);
    const { jobId } = await c.client.submitJob({ job: sampleJob() });
    assert.equal((await waitForJob(c.client, jobId)).state, JobState.SUCCEEDED);
    c.close();
  } finally {
    await w.stop();
    await again.close();
    await t.close();
  }
});

test('heartbeats keep the lease of a task four times longer than it, beating at jittered times within the interval', async () => {
  // lease 300 ms: the coordinator asks for a beat every 100 ms.
  const t = await startTestCoordinator({ leaseMs: 300 });
  const ops = new FakeOperations({ onEncode: () => new Promise<void>((r) => setTimeout(r, 1200)) });
  const w = await startWorker(t, { operations: ops, heartbeatMs: 1000 });
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    const job = await waitForJob(t.client, jobId, 30_000);
    assert.equal(job.state, JobState.SUCCEEDED, job.failureReason);
    assert.deepEqual(job.tasks, [], 'no task lost its lease or was retried');
  } finally {
    await w.stop();
    await t.close();
  }
  // The wait before each beat: never past the interval, never in step.
  assert.equal(
    beatDelay(100, () => 0),
    75,
  );
  const delays = Array.from({ length: 1000 }, () => beatDelay(100));
  assert.ok(Math.max(...delays) <= 100 && Math.min(...delays) >= 75);
  assert.ok(Math.max(...delays) - Math.min(...delays) > 20, 'workers that start together drift apart');
});
