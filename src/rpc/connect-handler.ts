// The Node request handler for the Connect, gRPC and gRPC-Web protocols, as
// connect-node's `connectNodeAdapter` but admitting calls before connect-es
// reads and decodes their bodies: a call without a valid token is refused from
// its headers, a body over the limit from its declared length (or once the
// limit is read), and an uncompressed protobuf message that does not decode is
// an invalid argument (connect-es would call it internal).
import type http from 'node:http';
import type http2 from 'node:http2';
import { fromBinary } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type Interceptor,
} from '@connectrpc/connect';
import { encodeEnvelope, type UniversalHandler } from '@connectrpc/connect/protocol';
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Authorize } from './auth.js';
import { requestTooLarge } from './limits.js';

export interface ConnectHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** The token check from the call's headers; undefined serves every call. */
  authorize?: Authorize;
  /** Largest request message read. */
  readMaxBytes: number;
  log: Logger;
}

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Why a call was refused before connect-es saw its body. */
const refusalKey = createContextKey<ConnectError | undefined>(undefined, { description: 'refusal' });

/** Answers a refused call with its refusal, in the caller's protocol (connect-es encodes it). */
const refusalInterceptor: Interceptor = (next) => (req) => {
  const refusal = req.contextValues.get(refusalKey);
  if (refusal) throw refusal;
  return next(req);
};

/** A request handler serving `routes` over Connect, gRPC and gRPC-Web. */
export function connectHandler(options: ConnectHandlerOptions): NodeHandler {
  const { routes, authorize, log, ...routerOptions } = options;
  const router = createConnectRouter({
    ...routerOptions,
    interceptors: [refusalInterceptor, ...(routerOptions.interceptors ?? [])],
  });
  routes(router);
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = handlers.get(req.url?.split('?', 2)[0] ?? '');
    if (!handler) {
      endWith(res, 404);
      return;
    }
    const contextValues = createContextValues();
    let uReq: ReturnType<typeof universalRequestFromNodeRequest>;
    try {
      uReq = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    } catch {
      // Without a Host header (HTTP/1.0) the call has no URL.
      endWith(res, 400);
      return;
    }
    const contentType = uReq.header.get('content-type') ?? '';
    admit(req, handler, authorize, options.readMaxBytes)
      .then((body) => {
        if (body instanceof ConnectError) {
          // The call gets an empty message instead of its body (Node discards what is unread).
          contextValues.set(refusalKey, body);
          uReq = { ...uReq, body: once(emptyMessage(contentType)) };
          uReq.header.delete('content-length');
        } else if (body) uReq = { ...uReq, body: once(body) };
        return handler(uReq);
      })
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((err: unknown) => {
        // The caller went away or the response could not be written: nobody to tell.
        log.debug({ method: handler.method.name, err: errorMessage(err) }, 'response not delivered');
      });
  };
}

/** Answers with a bare HTTP status (no call to answer in the caller's protocol). */
function endWith(res: http.ServerResponse | http2.Http2ServerResponse, status: number): void {
  res.statusCode = status;
  res.end();
}

/**
 * Checks a call before connect-es reads it: the refusal, or the body when it had
 * to be read to check its message, or undefined to let connect-es read it.
 */
async function admit(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  handler: UniversalHandler,
  authorize: Authorize | undefined,
  maxBytes: number,
): Promise<ConnectError | Uint8Array | undefined> {
  try {
    authorize?.(handler.method.name, req.headers.authorization);
  } catch (err) {
    return ConnectError.from(err, Code.Unauthenticated);
  }
  const framing = req.method === 'POST' ? binaryFraming(req.headers) : undefined;
  if (!framing) return undefined;
  const limit = maxBytes + (framing === 'enveloped' ? 5 : 0);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return requestTooLarge(declared, maxBytes);
  const body = await readBody(req, limit);
  if (typeof body === 'number') return requestTooLarge(body, maxBytes);
  // A malformed envelope is left to connect-es, which names the protocol error.
  const message = framing === 'raw' ? body : unenvelope(body);
  if (message) {
    try {
      fromBinary(handler.method.input, message);
    } catch (err) {
      return new ConnectError(`bad request message: ${errorMessage(err)}`, Code.InvalidArgument);
    }
  }
  return body;
}

/**
 * The request body, or the count of bytes read when it went over `limit` (the
 * rest is left unread for Node to discard; the caller still gets its answer).
 */
function readBody(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  limit: number,
): Promise<Buffer | number> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      chunks.length = 0;
      resolve(size);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    req.once('close', () => reject(new ConnectError('the caller went away', Code.Canceled)));
  });
}

/**
 * How an uncompressed protobuf request carries its message: `raw` (Connect
 * unary) or in one envelope (gRPC, gRPC-Web, Connect streaming); undefined for
 * JSON and compressed requests, which connect-es checks itself.
 */
function binaryFraming(headers: http.IncomingHttpHeaders): 'raw' | 'enveloped' | undefined {
  const type = (headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  const identity = (h: string) => {
    const v = headers[h];
    return v === undefined || v === 'identity';
  };
  if (type === 'application/proto' && identity('content-encoding')) return 'raw';
  const enveloped = /^application\/(grpc|grpc-web|connect)(\+proto)?$/.exec(type);
  if (!enveloped) return undefined;
  const encoding = enveloped[1] === 'connect' ? 'connect-content-encoding' : 'grpc-encoding';
  return identity(encoding) ? 'enveloped' : undefined;
}

/** The message of one uncompressed envelope filling `body`, else undefined. */
function unenvelope(body: Buffer): Buffer | undefined {
  if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) return undefined;
  return body.subarray(5);
}

/** An empty request message in the encoding `contentType` names, enveloped for the streaming protocols. */
function emptyMessage(contentType: string): Uint8Array {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const message = type.endsWith('json') ? new TextEncoder().encode('{}') : new Uint8Array(0);
  return /^application\/(grpc|connect)/.test(type) ? encodeEnvelope(0, message) : message;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
