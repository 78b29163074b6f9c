// A lean server path for hot unary gRPC calls over HTTP/2 (the workers' GetTask,
// Heartbeat, FinishTask): one frame in, one frame out, status in trailers, on
// Node's core HTTP/2 stream API. The general Connect handler costs about 1 ms of
// CPU per call (async iterables, WHATWG headers, an AbortController and its
// DOMException per call), and Node's request/response compatibility objects
// about 20 us more; this path does the same protocol work directly. Anything it
// does not take (other methods, gRPC-Web, Connect, compressed messages) goes on
// to the server's request handler; HTTP/1.1 never reaches it.
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { type DescMessage, fromBinary, type MessageShape, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { toConnectError } from './errors.js';
import { DEFAULT_MAX_REQUEST_BYTES, requestTooLarge } from './limits.js';

/** One unary method served by the lean path. */
export interface UnaryRoute<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  /** The method's name (as in `WORKER_METHODS`), for the auth check. */
  name: string;
  input: I;
  output: O;
  /**
   * Answers a request; `signal` aborts when the caller goes away or its deadline
   * passes (only with `usesSignal`; else it never aborts).
   */
  handle(req: MessageShape<I>, signal: AbortSignal): Promise<MessageShape<O> | EncodedMessage>;
  /** Whether `handle` watches its signal (a long poll): then each call gets an AbortController. */
  usesSignal?: boolean;
}

/** A response already in wire format (built from stored bytes without decoding them). */
export class EncodedMessage {
  constructor(readonly bytes: Uint8Array) {}
}

/** Builds a route with its types checked. */
export function unaryRoute<I extends DescMessage, O extends DescMessage>(
  route: UnaryRoute<I, O>,
): UnaryRoute {
  return route as unknown as UnaryRoute;
}

export interface LeanGrpcOptions {
  /** `/<package.Service>/` */
  servicePath: string;
  routes: UnaryRoute[];
  /** Throws a ConnectError when the call must be refused (authentication). */
  authorize?: (method: string, authorization: string | undefined) => void;
  /** Largest request message read (default `DEFAULT_MAX_REQUEST_BYTES`); a longer frame is refused from its length prefix. */
  maxRequestBytes?: number;
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
/** Longest timer Node accepts. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH } =
  http2.constants;
const OK_HEADERS = { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto' };
const OK_TRAILERS = { 'grpc-status': '0' };
/** The signal of calls whose handler does not watch one. */
const NEVER = new AbortController().signal;

type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void;

/**
 * Puts the lean path in front of an HTTP/2 server made with a request handler:
 * streams of `options.routes` are answered here, every other stream goes on to
 * the server's own stream listener (Node's bridge to the request handler).
 */
export function serveLeanGrpc(
  server: http2.Http2Server | http2.Http2SecureServer,
  options: LeanGrpcOptions,
): void {
  const routes = new Map(options.routes.map((r) => [`${options.servicePath}${r.name}`, r]));
  const others = server.listeners('stream') as StreamListener[];
  // Node bridges streams to the request handler with a `stream` listener; without
  // one every other call would hang, so refuse to start instead.
  if (others.length === 0) throw new Error('serveLeanGrpc: the HTTP/2 server has no request handler');
  server.removeAllListeners('stream');
  server.on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: string[]) => {
      const route =
        headers[HTTP2_HEADER_METHOD] === 'POST' ? routes.get(String(headers[HTTP2_HEADER_PATH])) : undefined;
      const type = headers[HTTP2_HEADER_CONTENT_TYPE];
      const encoding = headers['grpc-encoding'];
      if (
        route &&
        (type === 'application/grpc' || type === 'application/grpc+proto') &&
        (encoding === undefined || encoding === 'identity')
      ) {
        serve(route, stream, headers, options);
        return;
      }
      for (const listener of others) listener.call(server, stream, headers, flags, raw);
    },
  );
}

function serve(
  route: UnaryRoute,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  { authorize, maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES }: LeanGrpcOptions,
): void {
  let answered = false;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  const abort = () => {
    if (!answered) controller?.abort();
  };
  const settle = () => {
    if (answered) return false;
    answered = true;
    if (timer) clearTimeout(timer);
    return !stream.destroyed && !stream.closed && !stream.headersSent;
  };
  const ok = (message: Uint8Array) => {
    if (!settle()) return;
    stream.respond(OK_HEADERS, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
    stream.end(frame(message));
  };
  const fail = (err: unknown) => {
    if (!settle()) return;
    const e = toConnectError(err);
    // Trailers-only: the status rides on the headers of an empty response.
    stream.respond(
      {
        ...OK_HEADERS,
        'grpc-status': `${e.code}`,
        'grpc-message': encodeURIComponent(e.rawMessage),
      },
      { endStream: true },
    );
  };
  // A stream reset or torn down before the answer: the caller has gone.
  stream.once('close', abort);
  stream.on('error', abort);

  try {
    authorize?.(route.name, headers.authorization);
  } catch (err) {
    stream.resume();
    fail(err);
    return;
  }
  const timeout = parseTimeout(headers['grpc-timeout']);
  if (route.usesSignal) controller = new AbortController();
  if (timeout !== undefined)
    timer = setTimeout(
      () => {
        controller?.abort();
        fail(new ConnectError('the operation timed out', Code.DeadlineExceeded));
      },
      Math.min(timeout, MAX_TIMER_MS),
    );

  const chunks: Buffer[] = [];
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    if (answered) return;
    const before = received;
    received += chunk.length;
    chunks.push(chunk);
    // Refused from the frame's length prefix, before the message is buffered.
    const declared = before < 5 && received >= 5 ? Buffer.concat(chunks).readUInt32BE(1) : 0;
    if (declared > maxRequestBytes || received > 5 + maxRequestBytes) {
      chunks.length = 0;
      fail(requestTooLarge(Math.max(declared, received - 5), maxRequestBytes));
    }
  });
  stream.once('end', () => {
    if (answered) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    let input: ReturnType<typeof fromBinary>;
    try {
      input = fromBinary(route.input, unframe(body));
    } catch (err) {
      fail(err instanceof ConnectError ? err : new ConnectError('bad request message', Code.InvalidArgument));
      return;
    }
    route.handle(input, controller?.signal ?? NEVER).then(
      (out) => ok(out instanceof EncodedMessage ? out.bytes : toBinary(route.output, out)),
      (err: unknown) => fail(err),
    );
  });
}

/** The message of a gRPC request body: one uncompressed length-prefixed frame. */
function unframe(body: Buffer): Uint8Array {
  if (body.length < 5) throw new ConnectError('request without a message', Code.InvalidArgument);
  if (body[0] !== 0) throw new ConnectError('compressed message without grpc-encoding', Code.InvalidArgument);
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length)
    throw new ConnectError('request must hold exactly one message', Code.InvalidArgument);
  return body.subarray(5);
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** `grpc-timeout` (e.g. `15000m`) in ms; undefined when absent or malformed. */
export function parseTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}
