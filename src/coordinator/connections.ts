// Keeps the coordinator's port usable whatever peers do: limits on connections
// and how long they may sit idle, with defaults, and the idle rule for HTTP/1.1
// and HTTP/2 (a connection with a call in flight, such as a long poll or a
// WatchJob stream, is never idle).
import type http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';

export interface ConnectionLimits {
  /** A new connection that sends nothing (plaintext) or no TLS handshake for this long is closed. */
  sniffTimeoutMs: number;
  /** A connection with no call in flight and no traffic for this long is closed. */
  idleTimeoutMs: number;
  /** Connections beyond this many are refused as they arrive. */
  maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  sniffTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  maxConnections: 10_000,
};

type Connection = net.Socket | http2.Http2Session;

/**
 * Closes connections of `server` that stay idle for `idleMs`: an HTTP/1.1 socket
 * between requests, an HTTP/2 session without open streams. Calls in flight keep
 * theirs open however quiet they are (the clients' HTTP/2 pings are traffic).
 */
export function closeWhenIdle(
  server: http.Server | http2.Http2Server | http2.Http2SecureServer,
  idleMs: number,
): void {
  const calls = new WeakMap<Connection, number>();
  const count = (conn: Connection, delta: number) => calls.set(conn, (calls.get(conn) ?? 0) + delta);
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      count(session, 1);
      stream.once('close', () => count(session, -1));
    });
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // HTTP/2 streams are counted on their session above.
    if (req.httpVersionMajor !== 1) return;
    // Taken now: by the time the response closes, it may have let go of its socket.
    const socket = req.socket;
    count(socket, 1);
    res.once('close', () => count(socket, -1));
  });
  // Node emits `timeout` with the socket (HTTP/1.1) or the session (HTTP/2).
  server.setTimeout(idleMs);
  server.on('timeout', (conn: Connection) => {
    if ((calls.get(conn) ?? 0) > 0) return;
    if (conn instanceof net.Socket) conn.destroy();
    else conn.close();
  });
}
