// The PostgreSQL connection pool: pipelined clients (a transaction's statements
// go out together, one round trip per step), int8 timestamps read as numbers,
// connection failures reported instead of crashing the process, and server-side
// time limits on idle transactions and statements. Statements sent together can
// go out in one socket write (`inOneWrite`).
import net from 'node:net';
import pg from 'pg';

/** How to open the pool. */
export interface PoolOptions {
  /** Called when a pooled connection fails (server restart, cut network); the pool reconnects by itself. */
  onError?: (err: Error) => void;
  /** Maximum pooled connections. */
  poolSize?: number;
}

const PG_INT8 = 20;
const int8AsNumber = (v: string) => Number(v);
// pg asks for a parser for every column of every result: one function, not a new one each time.
const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === PG_INT8 ? int8AsNumber : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;

/**
 * A client on a socket made here (pg's `stream` option) and kept, so that
 * `inOneWrite` can hold its writes. pg writes every statement to the socket as it
 * is queued, one system call each; the syscall and the wake-up of the server
 * behind it cost more CPU than the statement's own work on either side.
 */
export class PooledClient extends pg.Client {
  readonly socket: net.Socket;

  constructor(config?: pg.ClientConfig) {
    const socket = new net.Socket();
    super({ ...config, stream: () => socket });
    this.socket = socket;
  }
}

/**
 * Calls `send` (which queues statements on `client` synchronously) with the
 * client's socket corked, so what it queues leaves in one write when it returns.
 * Over TLS the writes go to the TLS layer, not this socket, and leave as before.
 */
export function inOneWrite<T>(client: pg.ClientBase, send: () => T): T {
  const socket = client instanceof PooledClient ? client.socket : undefined;
  socket?.cork();
  try {
    return send();
  } finally {
    socket?.uncork();
  }
}

/** A pool on `url`. */
export function openPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    Client: PooledClient,
    max: options.poolSize ?? 10,
    // A client sends queued statements without waiting for the replies to the earlier
    // ones (node-postgres pipelining); each keeps its own result or error.
    pipeline: true,
    // Fail a connection attempt to a dead or partitioned server instead of waiting forever.
    connectionTimeoutMillis: 5_000,
    // Notice a server that vanished without closing the TCP connection.
    keepAlive: true,
    // Timestamps are int8 (bigint) milliseconds.
    types: { getTypeParser },
    // Server-side limits, sent as session parameters when a connection opens (a
    // `?name=value` in the URL overrides them). A transaction here is at most two
    // round trips, milliseconds; one idle for seconds belongs to a coordinator
    // that stopped mid-way (paused, starved) and holds row locks that block every
    // other coordinator's claims. Ending it after 5 s frees them well within a
    // lease (15 s by default); its coordinator sees a lost connection and retries.
    idle_in_transaction_session_timeout: 5_000,
    // No statement needs a minute (the largest read one job's tasks); a runaway
    // one, or one stuck behind a lock, fails instead of holding a connection.
    statement_timeout: 60_000,
  });
  // Idle clients report to the pool; a checked-out client between two statements
  // reports to itself. Either way its next statement fails (the caller sees a
  // Transient error) and the pool drops it on release.
  pool.on('error', (err) => options.onError?.(err));
  pool.on('connect', (client) => client.on('error', (err) => options.onError?.(err)));
  return pool;
}

/** `url` without its password, for logs and messages. */
export function displayUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
