// Starts a coordinator: opens and migrates the database, serves gRPC (HTTP/2)
// and, on the same port, Connect and gRPC-Web over HTTP/1.1 for browsers, and
// sweeps expired leases in the background. Optionally checks bearer tokens,
// serves TLS (then HTTP/2 and HTTP/1.1 are told apart by ALPN) and confines
// submitted filesystem paths to allowed roots. Connections are capped and timed
// out when silent or idle (`connections.ts`); tokens are checked before a
// request body is read (`../rpc/connect-handler.ts`).
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import type { TaskStore } from '../db/index.js';
import { errorMessage } from '../errors.js';
import { CoordinatorService } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Logger, silentLogger } from '../log.js';
import type { CoordinatorMetrics } from '../metrics/coordinator-metrics.js';
import { answer } from '../metrics/http-answer.js';
import { formatHostPort, parseHostPort } from '../rpc/address.js';
import { type AuthConfig, type Authorize, authEnabled, authGate, authorizer } from '../rpc/auth.js';
import { connectHandler, type NodeHandler } from '../rpc/connect-handler.js';
import { DEFAULT_MAX_REQUEST_BYTES } from '../rpc/limits.js';
import { type ConnectionLimits, closeWhenIdle, DEFAULT_CONNECTION_LIMITS } from './connections.js';
import { consoleFiles } from './console-files.js';
import { Coordinator, type CoordinatorOptions } from './coordinator.js';
import { answerWhileWaiting, checkSchemaCurrent, httpRoutes } from './http-routes.js';
import { jobRuns } from './job-runs.js';
import { openStoreWhenReachable } from './open-store.js';
import { coordinatorService } from './service.js';

export interface StartCoordinatorOptions extends CoordinatorOptions {
  /** `host:port` to listen on; port 0 picks a free one. */
  listen: string;
  /** SQLite file path or postgres:// URL, or an open TaskStore (then the caller closes it). */
  db: string | TaskStore;
  log?: Logger;
  /** Maximum pooled database connections (PostgreSQL; default 10). */
  dbPoolSize?: number;
  /** How often expired leases are swept when no worker is polling. */
  reapIntervalMs?: number;
  /** Tokens; without any, every call is served. */
  auth?: AuthConfig;
  /** PEM certificate chain and key: serve TLS only. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Filesystem paths of submitted jobs must lie inside these directories. */
  allowedRoots?: string[];
  /** Sniff and idle timeouts and the connection cap (defaults: `DEFAULT_CONNECTION_LIMITS`). */
  connections?: Partial<ConnectionLimits>;
  /** Largest request message read (default `DEFAULT_MAX_REQUEST_BYTES`); larger ones get RESOURCE_EXHAUSTED. */
  maxRequestBytes?: number;
  /** `host:port` for /metrics, /healthz, /readyz and the console apart from the API port (plain HTTP). */
  httpListen?: string;
  /** Serve the web console at /console/ (true: the built one in dist/console; a string: that folder). */
  console?: boolean | string;
  /**
   * Count tasks for Prometheus and serve /metrics (default true). Off, prom-client is
   * never loaded: the embedded coordinator of `encode` has nobody to scrape it.
   */
  metrics?: boolean;
}

export interface RunningCoordinator {
  /** `host:port` actually listened on. */
  address: string;
  coordinator: Coordinator;
  store: TaskStore;
  /** The metrics served at /metrics (none when started with `metrics: false`). */
  metrics?: CoordinatorMetrics;
  /** `host:port` of the `httpListen` server, when there is one. */
  httpAddress?: string;
  /** Stops serving (ending open polls and streams) and closes the database if it was opened here. */
  close(): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0');

/** The coordinator's Prometheus metrics; prom-client loads here, only when metrics are on. */
async function loadMetrics(store: TaskStore, coordinator: () => Coordinator): Promise<CoordinatorMetrics> {
  const { CoordinatorMetrics } = await import('../metrics/coordinator-metrics.js');
  return new CoordinatorMetrics({
    stateCounts: () => store.countStates(),
    workersConnected: async () => {
      const { workers, nowMs } = await coordinator().listWorkers();
      return workers.filter((w) => nowMs - w.lastSeenMs <= BigInt(coordinator().leaseMs)).length;
    },
  });
}

/** Starts serving CoordinatorService. */
export async function startCoordinator(options: StartCoordinatorOptions): Promise<RunningCoordinator> {
  const log = options.log ?? silentLogger;
  const ownStore = typeof options.db === 'string';
  // The ports open first and answer /healthz (and 503, UNAVAILABLE to RPC clients,
  // for everything else) while the database is opened, which may mean waiting for it.
  let waitingFor = 'opening the database';
  const waiting: NodeHandler = (req, res) => answerWhileWaiting(req, res, waitingFor);
  let serveApi = waiting;
  let serveHttp = waiting;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connections };
  const handler: NodeHandler = (req, res) => serveApi(req, res);
  const server = options.tls ? tlsServer(options.tls, handler, limits) : sniffingServer(handler, limits);
  server.on('connection', track);
  server.maxConnections = limits.maxConnections;
  let lastDropWarning = 0;
  server.on('drop', () => {
    // One line a minute at most: a flood of refused connections must not flood the log too.
    if (Date.now() - lastDropWarning < 60_000) return;
    lastDropWarning = Date.now();
    log.warn({ maxConnections: limits.maxConnections }, 'connection limit reached: refusing new connections');
  });
  const httpServer = options.httpListen ? http.createServer((req, res) => serveHttp(req, res)) : undefined;
  httpServer?.on('connection', track);
  const stopListening = () => {
    server.close();
    httpServer?.close();
    for (const s of sockets) s.destroy();
  };
  try {
    await listen(server, options.listen);
    if (httpServer && options.httpListen) await listen(httpServer, options.httpListen);
  } catch (err) {
    stopListening();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const address = formatHostPort({ host: addr.address, port: addr.port });
  const httpAddr = httpServer?.address() as AddressInfo | undefined;
  const httpAddress = httpAddr && formatHostPort({ host: httpAddr.address, port: httpAddr.port });

  let store: TaskStore;
  try {
    store =
      typeof options.db === 'string'
        ? await openStoreWhenReachable(options.db, {
            log,
            poolSize: options.dbPoolSize,
            onWait: (reason) => (waitingFor = `waiting for the database: ${reason}`),
          })
        : options.db;
  } catch (err) {
    stopListening();
    throw err;
  }
  const metrics = options.metrics === false ? undefined : await loadMetrics(store, () => coordinator);
  const coordinator = new Coordinator(store, { ...options, log, observer: metrics });
  let resumed: number;
  try {
    resumed = await coordinator.resumeLeases();
  } catch (err) {
    stopListening();
    if (ownStore) await store.close();
    throw err;
  }
  if (resumed > 0)
    log.info(
      { tasks: resumed },
      'running tasks given a fresh lease (no heartbeat could reach a stopped coordinator)',
    );
  const auth = options.auth ?? {};
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const connect = connectHandler({
    routes: (router) =>
      router.service(
        CoordinatorService,
        coordinatorService(coordinator, log, {
          allowedRoots: options.allowedRoots,
          jobRuns: async (jobId) => ({
            runs: await jobRuns(store, jobId),
            nowMs: BigInt(coordinator.clock.now()),
          }),
        }),
      ),
    requestGate: authGate(auth),
    readMaxBytes: maxRequestBytes,
    log,
  });
  const routes = httpRoutes({
    registry: metrics?.registry,
    checkReady: () => checkSchemaCurrent(store),
    authorizeMetrics: clientTokenCheck(authorizer(auth)),
    console: options.console
      ? consoleFiles({
          dir: typeof options.console === 'string' ? options.console : undefined,
          authorize: clientTokenCheck(authorizer(auth)),
          // The folder the client submitted (confined to --allowed-root then), not a path a
          // worker reported; only once the job succeeded.
          outputFolder: async (jobId) => {
            const job = await coordinator.getJob(jobId);
            const output = job.details?.output?.location;
            return job.manifest && output?.case === 'fs' ? output.value.path : undefined;
          },
        })
      : undefined,
  });
  const api: NodeHandler = options.httpListen
    ? connect
    : (req, res) => {
        if (!routes(req, res)) connect(req, res);
      };
  serveHttp = (req, res) => {
    if (routes(req, res)) return;
    // The console's own calls go to the port it came from.
    if (options.console) connect(req, res);
    else answer(res, 404, 'not found\n');
  };
  serveApi = api;

  const reaper = setInterval(() => {
    coordinator.reapExpired().catch((err) => {
      // A database outage is logged once by the store, not every second here.
      if (!store.unavailable) log.warn({ err: errorMessage(err) }, 'lease expiry sweep failed');
    });
  }, options.reapIntervalMs ?? 1000);
  reaper.unref();
  log.info(
    {
      address,
      httpAddress,
      db: store.display,
      tls: !!options.tls,
      console: !!options.console,
      auth: authEnabled(auth),
      allowedRoots: options.allowedRoots,
    },
    'coordinator listening',
  );

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      clearInterval(reaper);
      coordinator.close();
      httpServer?.close();
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
  return { address, coordinator, store, metrics, httpAddress, close };
}

/** Listens on `listen` (`host:port`), rejecting when the port cannot be bound. */
function listen(server: net.Server, address: string): Promise<void> {
  const { host, port } = parseHostPort(address);
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The client-token check of one request's `authorization` header, when auth is on. */
function clientTokenCheck(authorize: Authorize | undefined) {
  // Checked as a client call: the client tokens and the worker token are accepted.
  return authorize && ((authorization: string | undefined) => authorize('Metrics', authorization));
}

/** TLS on the port; ALPN picks HTTP/2 (gRPC) or HTTP/1.1 (Connect, gRPC-Web). */
function tlsServer(
  tls: { cert: string | Buffer; key: string | Buffer },
  handler: NodeHandler,
  limits: ConnectionLimits,
): net.Server {
  const server = http2.createSecureServer(
    { cert: tls.cert, key: tls.key, allowHTTP1: true, handshakeTimeout: limits.sniffTimeoutMs },
    handler,
  );
  closeWhenIdle(server, limits.idleTimeoutMs);
  return server;
}

/** One plaintext port, two protocols: HTTP/2 (gRPC) is told apart by its connection preface. */
function sniffingServer(handler: NodeHandler, limits: ConnectionLimits): net.Server {
  const h2 = http2.createServer(handler);
  closeWhenIdle(h2, limits.idleTimeoutMs);
  const h1 = http.createServer(handler);
  closeWhenIdle(h1, limits.idleTimeoutMs);
  return net.createServer((socket) => {
    // A peer may reset at any moment; an `error` nobody listens to would end the process.
    // The chosen server adds its own handling; this one stays for the socket's life.
    socket.on('error', () => socket.destroy());
    const silent = () => socket.destroy();
    socket.setTimeout(limits.sniffTimeoutMs);
    socket.once('timeout', silent);
    socket.once('data', (first) => {
      socket.setTimeout(0);
      socket.off('timeout', silent);
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
}
