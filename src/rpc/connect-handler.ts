// The Node request handler for the Connect, gRPC and gRPC-Web protocols: a
// connect-es router, with the call's token checked from its headers before any
// of the body is read (`requestGate`), and an uncompressed protobuf body read
// under the size limit and decoded here, once, so that a message which does not
// decode is an invalid argument (connect-es would call it internal).
import type http from 'node:http';
import type http2 from 'node:http2';
import { type DescMessage, fromBinary, type MessageShape } from '@bufbuild/protobuf';
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
import { requestTooLarge } from './limits.js';

export interface ConnectHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** Largest request message read. */
  readMaxBytes: number;
  log: Logger;
}

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** The request message decoded from the body here; the call gets it instead of the empty message connect-es decoded. */
const decodedKey = createContextKey<MessageShape<DescMessage> | undefined>(undefined, {
  description: 'decoded request message',
});

/**
 * Hands the call the request message decoded from its body (see `decodedBody`)
 * in place of the empty one connect-es decoded. A streaming call's body is read
 * only when the call takes its message, so the swap happens then.
 */
const decodedInterceptor: Interceptor = (next) => (req) => {
  const swap = <M>(message: M): M => (req.contextValues.get(decodedKey) as M | undefined) ?? message;
  if (!req.stream) return next({ ...req, message: swap(req.message) });
  const messages = req.message;
  return next({
    ...req,
    message: (async function* () {
      for await (const m of messages) yield swap(m);
    })(),
  });
};

/** A request handler serving `routes` over Connect, gRPC and gRPC-Web. */
export function connectHandler(options: ConnectHandlerOptions): NodeHandler {
  const { routes, log, ...routerOptions } = options;
  const router = createConnectRouter({
    ...routerOptions,
    interceptors: [decodedInterceptor, ...(routerOptions.interceptors ?? [])],
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
    const framing = req.method === 'POST' ? binaryFraming(req.headers) : undefined;
    if (framing) {
      // connect-es reads the body only once the request gate let the call through.
      const body = decodedBody(req, framing, handler.method.input, options.readMaxBytes, (message) =>
        contextValues.set(decodedKey, message),
      );
      uReq = { ...uReq, body };
      // The body connect-es reads is the empty message, not the length declared.
      uReq.header.delete('content-length');
    }
    handler(uReq)
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
 * The body connect-es reads for an uncompressed protobuf request: the message is
 * read (refused over `maxBytes`, from its declared length when there is one),
 * decoded once and handed to `decoded`; connect-es then reads an empty message
 * in the same framing. A message that does not decode is INVALID_ARGUMENT.
 */
async function* decodedBody(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  framing: Framing,
  input: DescMessage,
  maxBytes: number,
  decoded: (message: MessageShape<DescMessage>) => void,
): AsyncIterable<Uint8Array> {
  const limit = maxBytes + (framing === 'enveloped' ? 5 : 0);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw requestTooLarge(declared, maxBytes);
  const body = await readBody(req, limit);
  if (typeof body === 'number') throw requestTooLarge(body, maxBytes);
  const message = framing === 'raw' ? body : unenvelope(body);
  try {
    decoded(fromBinary(input, message));
  } catch (err) {
    throw new ConnectError(`bad request message: ${errorMessage(err)}`, Code.InvalidArgument);
  }
  yield framing === 'raw' ? new Uint8Array(0) : encodeEnvelope(0, new Uint8Array(0));
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
    let ended = false;
    req.on('data', onData);
    req.once('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    req.once('error', reject);
    // Every stream closes once its call is answered; only a close before the end is the caller leaving
    // (an error built for every call would cost a stack trace each).
    req.once('close', () => {
      if (!ended) reject(new ConnectError('the caller went away', Code.Canceled));
    });
  });
}

/** How an uncompressed protobuf request carries its message: `raw` (Connect unary) or in one envelope (gRPC, gRPC-Web, Connect streaming). */
type Framing = 'raw' | 'enveloped';

/** The framing of an uncompressed protobuf request; undefined for JSON and compressed requests, which connect-es reads and decodes itself. */
function binaryFraming(headers: http.IncomingHttpHeaders): Framing | undefined {
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

/** The message of the one uncompressed envelope a request body must be (every method takes one message). */
function unenvelope(body: Buffer): Buffer {
  if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5)
    throw new ConnectError('request must hold exactly one message', Code.InvalidArgument);
  if (body[0] !== 0) throw new ConnectError('compressed message without an encoding', Code.InvalidArgument);
  return body.subarray(5);
}
