/**
 * A static HTTP server on 127.0.0.1 for tests: serves a directory (HLS playlists, fMP4 segments) plus
 * fixed extra routes (player scripts, an HTML page), with CORS, byte ranges and no escape from the root.
 */
import { open, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** A route served from a file on disk (absolute path) or from bytes held in memory. */
export type Route = string | { body: string | Uint8Array; contentType: string };

/** Options for {@link serveDir}. */
export interface ServeOptions {
  /** Extra URL paths (e.g. `/hls.js`) served before the directory is looked at. */
  routes?: Record<string, Route>;
  /** Milliseconds to hold each request (by its URL) before answering: a slow network. */
  delayMs?: (url: string) => number;
}

/** One request the server answered, in arrival order. */
export interface RequestLogEntry {
  method: string;
  /** Decoded URL path, without the query. */
  path: string;
  status: number;
  /** The Range header, if one was sent. */
  range?: string;
}

/** A running static server. */
export interface StaticServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Every request answered so far (for asserting what a player fetched). */
  requests: RequestLogEntry[];
  /** Stops listening and drops open connections. */
  close: () => Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/mp4',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.ts': 'video/mp2t',
  '.mpd': 'application/dash+xml',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** The Content-Type the server sends for a file name. */
export function contentTypeFor(fileName: string): string {
  return CONTENT_TYPES[extname(fileName).toLowerCase()] ?? 'application/octet-stream';
}

/** A parsed single byte range, inclusive at both ends, or the reason it can't be served. */
export type ByteRange = { start: number; end: number } | 'unsatisfiable' | 'ignore';

/**
 * Parses a `Range` header against a file size (RFC 9110 §14.1.2). Multi-range and malformed headers are
 * `'ignore'` (the whole file is sent with 200, which the RFC allows).
 */
export function parseRange(header: string, size: number): ByteRange {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return 'ignore';
  const [, first, last] = match;
  if (first === '' && last === '') return 'ignore';
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return 'ignore';
  return { start, end };
}

/** Serves `root` (and `options.routes`) on a random loopback port. */
export async function serveDir(root: string, options: ServeOptions = {}): Promise<StaticServer> {
  const realRoot = await realpath(root);
  const routes = options.routes ?? {};
  const requests: RequestLogEntry[] = [];

  const server = createServer(async (req, res) => {
    const delay = options.delayMs?.(req.url ?? '') ?? 0;
    if (delay > 0) await new Promise((wake) => setTimeout(wake, delay));
    handle(req, res, realRoot, routes).then(
      (entry) => requests.push(entry),
      (error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(error));
        requests.push({ method: req.method ?? '', path: req.url ?? '', status: 500 });
      },
    );
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges',
};

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  routes: Record<string, Route>,
): Promise<RequestLogEntry> {
  const method = req.method ?? 'GET';
  const range = req.headers.range;
  const reply = (status: number, path: string, headers: Record<string, string | number> = {}, body = '') => {
    res.writeHead(status, { ...CORS_HEADERS, 'Cache-Control': 'no-store', ...headers });
    res.end(method === 'HEAD' ? undefined : body);
    return { method, path, status, ...(range ? { range } : {}) };
  };

  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return reply(400, req.url ?? '', { 'Content-Type': 'text/plain' }, 'bad URL');
  }
  if (method === 'OPTIONS') return reply(204, path);
  if (method !== 'GET' && method !== 'HEAD') {
    return reply(405, path, { Allow: 'GET, HEAD, OPTIONS' }, 'method not allowed');
  }

  const route = routes[path];
  if (route !== undefined && typeof route !== 'string') {
    const body = typeof route.body === 'string' ? Buffer.from(route.body) : route.body;
    res.writeHead(200, {
      ...CORS_HEADERS,
      'Cache-Control': 'no-store',
      'Content-Type': route.contentType,
      'Content-Length': body.byteLength,
    });
    res.end(method === 'HEAD' ? undefined : body);
    return { method, path, status: 200 };
  }

  const file = route ?? (await resolveInRoot(root, path));
  if (file === undefined) return reply(404, path, { 'Content-Type': 'text/plain' }, 'not found');
  // Stat and read one open file: a playlist replaced (renamed over) between a stat by name and
  // an open by name would be sent with the old length and the new bytes.
  const fh = await open(file, 'r').catch(() => undefined);
  if (fh === undefined) return reply(404, path, { 'Content-Type': 'text/plain' }, 'not found');
  try {
    const info = await fh.stat();
    if (!info.isFile()) return reply(404, path, { 'Content-Type': 'text/plain' }, 'not found');

    const size = info.size;
    const headers = {
      'Content-Type': contentTypeFor(file),
      'Accept-Ranges': 'bytes',
      'Last-Modified': info.mtime.toUTCString(),
    };
    const byteRange = range ? parseRange(range, size) : 'ignore';
    if (byteRange === 'unsatisfiable') {
      return reply(416, path, { ...headers, 'Content-Range': `bytes */${size}` });
    }
    const { start, end, status } =
      byteRange === 'ignore' ? { start: 0, end: size - 1, status: 200 } : { ...byteRange, status: 206 };
    res.writeHead(status, {
      ...CORS_HEADERS,
      'Cache-Control': 'no-store',
      ...headers,
      'Content-Length': size === 0 ? 0 : end - start + 1,
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (method === 'HEAD' || size === 0) {
      res.end();
    } else {
      // pipeline settles however the response ends, also for a client that left before
      // this point (its 'close' already came): a player cancels requests all the time.
      const stream = fh.createReadStream({ start, end, autoClose: false });
      await pipeline(stream, res).catch((err: NodeJS.ErrnoException) => {
        // The client's going (its socket closed) is no error of the server's; a failed read is.
        if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE' && !req.destroyed) throw err;
      });
    }
    return { method, path, status, ...(range ? { range } : {}) };
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Maps a URL path to a file under `root`, or undefined if it would leave the root (also via symlinks). */
async function resolveInRoot(root: string, urlPath: string): Promise<string | undefined> {
  if (urlPath.includes('\0')) return undefined;
  let candidate = resolve(root, `.${urlPath}`);
  if (urlPath.endsWith('/')) candidate = resolve(candidate, 'index.html');
  if (!isInside(root, candidate)) return undefined;
  const real = await realpath(candidate).catch(() => undefined);
  if (real === undefined || !isInside(root, real)) return undefined;
  return real;
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}
