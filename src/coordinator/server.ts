// Starts a coordinator: opens and migrates the database, serves gRPC (HTTP/2)
// and, on the same port, Connect and gRPC-Web over HTTP/1.1 for browsers, and
// sweeps expired leases in the background.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { errorMessage } from '../errors.js';
import { CoordinatorService } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Logger, silentLogger } from '../log.js';
import { formatHostPort, parseHostPort } from '../rpc/address.js';
import { Store } from '../store/index.js';
import { Coordinator, type CoordinatorOptions } from './coordinator.js';
import { coordinatorService } from './service.js';

export interface StartCoordinatorOptions extends CoordinatorOptions {
  /** `host:port` to listen on; port 0 picks a free one. */
  listen: string;
  /** SQLite file path or postgres:// URL, or an open Store (then the caller closes it). */
  db: string | Store;
  log?: Logger;
  /** How often expired leases are swept when no worker is polling. */
  reapIntervalMs?: number;
}

export interface RunningCoordinator {
  /** `host:port` actually listened on. */
  address: string;
  coordinator: Coordinator;
  store: Store;
  /** Stops serving (ending open polls and streams) and closes the database if it was opened here. */
  close(): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0');

/** Starts serving CoordinatorService. */
export async function startCoordinator(options: StartCoordinatorOptions): Promise<RunningCoordinator> {
  const log = options.log ?? silentLogger;
  const ownStore = typeof options.db === 'string';
  const store =
    typeof options.db === 'string'
      ? await Store.open(options.db, {
          onPoolError: (err) => log.warn({ err: err.message }, 'database connection lost'),
        })
      : options.db;
  const coordinator = new Coordinator(store, { ...options, log });
  const handler = connectNodeAdapter({
    routes: (router) => router.service(CoordinatorService, coordinatorService(coordinator, log)),
  });

  const h2 = http2.createServer(handler);
  const h1 = http.createServer(handler);
  const sockets = new Set<net.Socket>();
  // One port, two protocols: HTTP/2 (gRPC) is told apart by its connection preface.
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (first) => {
      socket.pause();
      socket.unshift(first);
      const isH2 = first
        .subarray(0, HTTP2_PREFACE.length)
        .equals(HTTP2_PREFACE.subarray(0, Math.min(first.length, HTTP2_PREFACE.length)));
      // The chosen server takes over reading from here; HTTP/2 resumes the socket itself.
      if (isH2) {
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });

  const { host, port } = parseHostPort(options.listen);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if (ownStore) await store.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const address = formatHostPort({ host: addr.address, port: addr.port });

  const reaper = setInterval(() => {
    coordinator
      .reapExpired()
      .catch((err) => log.warn({ err: errorMessage(err) }, 'lease expiry sweep failed'));
  }, options.reapIntervalMs ?? 1000);
  reaper.unref();
  log.info({ address, db: store.display, dialect: store.dialectName }, 'coordinator listening');

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      clearInterval(reaper);
      coordinator.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Give in-flight unary calls a moment to answer, then drop everything.
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 100).unref();
      });
      if (ownStore) await store.close();
      log.info({ address }, 'coordinator stopped');
    })();
    return closed;
  };
  return { address, coordinator, store, close };
}
