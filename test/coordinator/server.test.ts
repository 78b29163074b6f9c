// The coordinator over the network: gRPC status codes at the boundary, secrets
// kept out of responses, Connect over HTTP/1.1 on the same port, clean shutdown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, toJsonString } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { CoordinatorService, JobSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { FileSchema } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { sampleJob } from '../fixtures/messages.js';
import { startTestCoordinator } from './harness.js';

test('a bad job is refused over gRPC with INVALID_ARGUMENT and a message naming the field', async () => {
  const t = await startTestCoordinator();
  try {
    const job = sampleJob();
    job.secondsPerSegment = 0;
    await assert.rejects(t.client.submitJob({ job }), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, /^job\.seconds_per_segment: must be at least 0\.1/);
      return true;
    });
    await assert.rejects(t.client.getJob({ jobId: 'nope' }), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.NotFound);
      return true;
    });
    await assert.rejects(
      t.client.finishTask({ workerId: 'w', taskId: 'nope', lease: 'x' }),
      (err: unknown) => {
        assert.ok(err instanceof ConnectError);
        assert.equal(err.code, Code.InvalidArgument);
        assert.match(err.rawMessage, /^result: required/);
        return true;
      },
    );
  } finally {
    await t.close();
  }
});

test('GetJob, ListJobs and WatchJob never return storage secrets', async () => {
  const t = await startTestCoordinator();
  try {
    const credentials = { accessKeyId: 'AKID', secretAccessKey: 'TOP-SECRET', sessionToken: 'TOKEN-SECRET' };
    const job = sampleJob('/d', {
      input: create(FileSchema, {
        location: { case: 's3', value: { bucket: 'media', path: 'in.mp4', credentials } },
      }),
    });
    const { jobId } = await t.client.submitJob({ job });
    const seen = [
      toJsonString(JobSchema, (await t.client.getJob({ jobId })).job!),
      ...(await t.client.listJobs({})).jobs.map((j) => toJsonString(JobSchema, j)),
    ];
    for await (const res of t.client.watchJob({ jobId })) {
      seen.push(toJsonString(JobSchema, res.job!));
      break;
    }
    assert.equal(seen.length, 3);
    for (const s of seen) {
      assert.doesNotMatch(s, /TOP-SECRET|TOKEN-SECRET/);
      assert.match(s, /media/);
    }
    // Workers do get the credentials: they need them to read the input.
    const { task } = await t.client.getTask({ workerId: 'w1', waitMs: 0 });
    assert.equal(
      task?.kind.case === 'split' &&
        task.kind.value.input?.location.case === 's3' &&
        task.kind.value.input.location.value.credentials?.secretAccessKey,
      'TOP-SECRET',
    );
  } finally {
    await t.close();
  }
});

test('the gRPC port also serves Connect over HTTP/1.1 (browsers)', async () => {
  const t = await startTestCoordinator();
  try {
    const http1 = createClient(
      CoordinatorService,
      createConnectTransport({ baseUrl: `http://${t.address}`, httpVersion: '1.1' }),
    );
    const { jobId } = await http1.submitJob({ job: sampleJob() });
    const { jobs } = await t.client.listJobs({});
    assert.deepEqual(
      jobs.map((j) => j.id),
      [jobId],
    );
  } finally {
    await t.close();
  }
});

test('close() ends open long polls and watches at once', async () => {
  const t = await startTestCoordinator({ maxWaitMs: 30_000 });
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    await t.client.getTask({ workerId: 'w', waitMs: 0 });
    const poll = t.client.getTask({ workerId: 'w', waitMs: 30_000 }).then(
      (res) => `empty: ${res.task === undefined}`,
      (err: Error) => err.message,
    );
    const watch = (async () => {
      for await (const _ of t.client.watchJob({ jobId })) {
        // read until the stream ends
      }
      return 'ended';
    })().catch((err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await t.running.close();
    const outcomes = await Promise.all([poll, watch]);
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
    assert.equal(outcomes[0], 'empty: true', 'the long poll answers "no task" rather than failing');
  } finally {
    await t.close();
  }
});
