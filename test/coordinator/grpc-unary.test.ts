// The lean gRPC path: grpc-timeout headers, and which streams it takes.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { CoordinatorService, HeartbeatResponseSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { parseTimeout, serveLeanGrpc, unaryRoute } from '../../src/rpc/grpc-unary.js';

test('grpc-timeout values are read in every unit; absent or malformed ones mean no deadline', () => {
  assert.equal(parseTimeout('15000m'), 15_000);
  assert.equal(parseTimeout('2S'), 2000);
  assert.equal(parseTimeout('1M'), 60_000);
  assert.equal(parseTimeout('1H'), 3_600_000);
  assert.equal(parseTimeout('500000u'), 500);
  assert.equal(parseTimeout('1000000n'), 1);
  assert.equal(parseTimeout(undefined), undefined);
  assert.equal(parseTimeout('12'), undefined);
  assert.equal(parseTimeout('123456789m'), undefined, 'at most 8 digits');
  assert.equal(parseTimeout(['1S', '2S']), undefined);
});

test('the lean path answers its routes and hands every other stream to the request handler', {
  timeout: 10_000,
}, async () => {
  const heartbeat = CoordinatorService.method.heartbeat;
  let handled = 0;
  const server = http2.createServer((req, res) => {
    handled++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`handler saw ${req.url}`);
  });
  serveLeanGrpc(server, {
    servicePath: `/${CoordinatorService.typeName}/`,
    routes: [
      unaryRoute({
        name: heartbeat.name,
        input: heartbeat.input,
        output: heartbeat.output,
        handle: async (req) => create(HeartbeatResponseSchema, { leaseValid: req.lease === 'l1' }),
      }),
    ],
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  // connect-node's own gRPC client: the lean route must answer what any gRPC client sends.
  const sessions = new Http2SessionManager(`http://${address}`);
  const client = createClient(
    CoordinatorService,
    createGrpcTransport({ baseUrl: `http://${address}`, sessionManager: sessions }),
  );
  const session = http2.connect(`http://${address}`);
  try {
    const res = await client.heartbeat({ workerId: 'w', taskId: 't', lease: 'l1' });
    assert.equal(res.leaseValid, true);
    assert.equal(handled, 0, 'the lean route answered without the handler');
    // Another path (and a lean path without gRPC's content type) go to the handler.
    for (const [path, type] of [
      ['/other', 'text/plain'],
      [`/${CoordinatorService.typeName}/Heartbeat`, 'application/json'],
    ] as const) {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': type });
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => {
          text += c;
        });
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
        stream.end(toBinary(HeartbeatResponseSchema, create(HeartbeatResponseSchema, {})));
      });
      assert.equal(body, `handler saw ${path}`);
    }
    assert.equal(handled, 2);
  } finally {
    sessions.abort();
    session.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the lean path refuses a server without a request handler (its other streams would hang)', () => {
  assert.throws(
    () => serveLeanGrpc(http2.createServer(), { servicePath: '/x/', routes: [] }),
    /no request handler/,
  );
});
