// One RPC stack serves every protocol the same: gRPC, gRPC-Web and Connect
// (binary and JSON, HTTP/1.1 and HTTP/2) carry the request's fields to the
// service, for unary worker and client calls and the streaming WatchJob.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient, type Transport } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { CoordinatorService } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { sampleJob } from '../fixtures/messages.js';
import { startTestCoordinator } from './harness.js';

const transports: [string, (baseUrl: string) => Transport][] = [
  ['gRPC', (baseUrl) => createGrpcTransport({ baseUrl })],
  [
    'gRPC-Web binary',
    (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true }),
  ],
  ['gRPC-Web JSON', (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: '1.1' })],
  [
    'Connect binary',
    (baseUrl) => createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true }),
  ],
  ['Connect JSON', (baseUrl) => createConnectTransport({ baseUrl, httpVersion: '1.1' })],
  [
    'Connect binary over HTTP/2',
    (baseUrl) => createConnectTransport({ baseUrl, httpVersion: '2', useBinaryFormat: true }),
  ],
];

test('every protocol carries the request to the service: submit, get, watch, claim and heartbeat', async () => {
  const t = await startTestCoordinator();
  try {
    for (const [name, make] of transports) {
      const client = createClient(CoordinatorService, make(`http://${t.address}`));
      const { jobId } = await client.submitJob({ job: sampleJob(`/${name.replaceAll(' ', '-')}`) });
      assert.equal((await client.getJob({ jobId })).job?.id, jobId, `${name}: GetJob`);
      for await (const res of client.watchJob({ jobId })) {
        assert.equal(res.job?.id, jobId, `${name}: WatchJob`);
        break;
      }
      const workerId = `w-${name}`;
      const { task } = await client.getTask({ workerId, waitMs: 0, host: 'h', slots: 2 });
      assert.equal(task?.jobId, jobId, `${name}: GetTask hands out this job's split`);
      const beat = await client.heartbeat({ workerId, taskId: task.id, lease: task.lease, progress: 0.5 });
      assert.equal(beat.leaseValid, true, `${name}: Heartbeat with the claim's lease`);
      const other = await client.heartbeat({ workerId: 'someone-else', taskId: task.id, lease: task.lease });
      assert.equal(other.leaseValid, false, `${name}: another worker's heartbeat`);
    }
  } finally {
    await t.close();
  }
});
