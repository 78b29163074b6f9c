/**
 * Hostile and careless peers for the coordinator's port: raw TCP sockets that
 * send what they like and reset when they like, and a check that the
 * coordinator still answers a real ListJobs over gRPC and over Connect.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
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
