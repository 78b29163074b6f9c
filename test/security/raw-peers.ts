/**
 * Hostile and careless peers for the coordinator's port: raw TCP sockets that
 * send what they like and reset when they like, and a check that the
 * coordinator still answers a real ListJobs over gRPC and over Connect.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Writable } from 'node:stream';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { CoordinatorService } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { parseHostPort } from '../../src/rpc/address.js';
import { connectCoordinator } from '../../src/rpc/index.js';

/** A connected raw socket to `address`. */
export function rawSocket(address: string): Promise<net.Socket> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => {
      socket.off('error', reject);
      // What the server does to us is not this peer's concern.
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves when the peer (the server) has closed `socket`, or with false after `ms`. */
export function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    // A half-closed socket (server sent FIN) counts as closed.
    socket.once('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `chunks` on a fresh socket, then resets it (TCP RST). */
export async function sendThenReset(address: string, ...chunks: (string | Buffer)[]): Promise<void> {
  const socket = await rawSocket(address);
  for (const c of chunks) {
    socket.write(c);
    await sleep(5);
  }
  socket.resetAndDestroy();
}

/** A real ListJobs over gRPC (HTTP/2) and over Connect (HTTP/1.1) succeeds. */
export async function assertAnswers(address: string, token?: string): Promise<void> {
  const grpc = connectCoordinator(address, { token });
  try {
    const res = await grpc.client.listJobs({}, { timeoutMs: 10_000 });
    assert.ok(Array.isArray(res.jobs));
  } finally {
    grpc.close();
  }
  const connect = createClient(
    CoordinatorService,
    createConnectTransport({
      baseUrl: `http://${address}`,
      httpVersion: '1.1',
      interceptors: token
        ? [
            (next) => (req) => {
              req.header.set('authorization', `Bearer ${token}`);
              return next(req);
            },
          ]
        : [],
    }),
  );
  const res = await connect.listJobs({}, { timeoutMs: 10_000 });
  assert.ok(Array.isArray(res.jobs));
}

/** What came back from a raw call: HTTP status, headers and trailers merged, body. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request body of `size` bytes: `head`, then `filler` repeated, then `tail`, in 1 MiB writes. */
export interface RawBody {
  size: number;
  head?: Buffer;
  filler?: number;
}

function* bodyChunks({ size, head = Buffer.alloc(0), filler = 0x20 }: RawBody): Generator<Buffer> {
  yield head;
  const block = Buffer.alloc(1024 * 1024, filler);
  for (let left = size - head.length; left > 0; left -= block.length)
    yield left >= block.length ? block : block.subarray(0, left);
}

/**
 * Writes `body` to `stream` until the answer comes or the stream breaks; a
 * server that refuses early is not made to read the rest.
 */
async function pump(stream: Writable, body: RawBody, answered: () => boolean): Promise<void> {
  for (const chunk of bodyChunks(body)) {
    if (answered() || stream.destroyed || stream.writableEnded) return;
    if (!stream.write(chunk))
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('close', done);
          clearInterval(poll);
          resolve();
        };
        stream.once('drain', done);
        stream.once('close', done);
        const poll = setInterval(() => answered() && done(), 20);
      });
  }
  if (!answered() && !stream.destroyed) stream.end();
}

/** One HTTP/1.1 POST with `body` (declared length unless `chunked`); status 0 when the connection broke first. */
export function h1Post(
  address: string,
  urlPath: string,
  headers: Record<string, string>,
  body: RawBody,
  chunked = false,
): Promise<RawAnswer> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    let done = false;
    const req = http.request(
      {
        host,
        port,
        path: urlPath,
        method: 'POST',
        agent: false,
        headers: chunked ? headers : { ...headers, 'content-length': String(body.size) },
      },
      (res) => {
        done = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    // A server that answers early closes the connection (Node does, with a body left
    // unread), which can break our writes before its answer is read: status 0.
    req.on('error', (err) =>
      setTimeout(
        () => done || resolve({ status: 0, headers: { error: err.message }, body: Buffer.alloc(0) }),
        500,
      ),
    );
    void pump(req, body, () => done);
  });
}

/** One HTTP/2 POST with `body`; trailers are merged into the headers. */
export function h2Post(
  address: string,
  urlPath: string,
  headers: Record<string, string>,
  body: RawBody,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', reject);
    let done = false;
    const stream = session.request({ ':method': 'POST', ':path': urlPath, ...headers });
    const answer: RawAnswer = { status: 0, headers: {}, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      done = true;
      answer.status = Number(h[':status']);
      Object.assign(answer.headers, h);
    });
    stream.on('trailers', (t) => Object.assign(answer.headers, t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    // The answer is complete at the end of the readable side, whether or not the body was all sent.
    stream.on('end', () => {
      resolve({ ...answer, body: Buffer.concat(chunks) });
      session.destroy();
    });
    stream.on('close', () => {
      if (!done) reject(new Error(`stream closed without an answer (code ${stream.rstCode})`));
      session.destroy();
    });
    stream.resume();
    void pump(stream, body, () => done);
  });
}

/** A gRPC frame header announcing a message of `length` bytes. */
export function grpcFrameHead(length: number): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 1);
  return head;
}
