// The Node request handler for the Connect, gRPC and gRPC-Web protocols, as
// connect-node's `connectNodeAdapter` but admitting calls before their bodies
// are read: a call without a valid token is refused from its headers, and a
// body larger than the limit is refused from its declared length (or once the
// limit is read) by connect-es's `readMaxBytes`.
import type http from 'node:http';
import type http2 from 'node:http2';
import { type ConnectRouter, type ConnectRouterOptions, createConnectRouter } from '@connectrpc/connect';
import { encodeEnvelope, type UniversalHandler } from '@connectrpc/connect/protocol';
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type { Logger } from '../log.js';
import type { Authorize } from './auth.js';

export interface ConnectHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /** The token check from the call's headers; undefined serves every call. */
  authorize?: Authorize;
  log: Logger;
}

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A request handler serving `routes` over Connect, gRPC and gRPC-Web. */
export function connectHandler(options: ConnectHandlerOptions): NodeHandler {
  const { routes, authorize, log, ...routerOptions } = options;
  const router = createConnectRouter(routerOptions);
  routes(router);
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = handlers.get(req.url?.split('?', 2)[0] ?? '');
    if (!handler) {
      res.writeHead(404).end();
      return;
    }
    let uReq: ReturnType<typeof universalRequestFromNodeRequest>;
    try {
      uReq = universalRequestFromNodeRequest(req, res, undefined, undefined);
    } catch {
      // Without a Host header (HTTP/1.0) the call has no URL.
      res.writeHead(400).end();
      return;
    }
    if (!admitted(authorize, handler.method.name, req.headers.authorization)) {
      // The call will be refused by the auth interceptor; it gets an empty message
      // instead of its body, so nothing a stranger sends is read or decoded.
      uReq = { ...uReq, body: emptyMessage(uReq.header.get('content-type') ?? '') };
      // Node discards the unread body after the answer (closing instead could lose the answer).
      uReq.header.delete('content-length');
    }
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((err: unknown) => {
        // The caller went away or the response could not be written: nobody to tell.
        log.debug({ method: handler.method.name, err: String(err) }, 'response not delivered');
      });
  };
}

function admitted(authorize: Authorize | undefined, method: string, authorization: string | undefined) {
  try {
    authorize?.(method, authorization);
    return true;
  } catch {
    return false;
  }
}

/** An empty request message in the encoding `contentType` names, enveloped for the streaming protocols. */
function emptyMessage(contentType: string): AsyncIterable<Uint8Array> {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const message = type.endsWith('json') ? new TextEncoder().encode('{}') : new Uint8Array(0);
  const body = /^application\/(grpc|connect)/.test(type) ? encodeEnvelope(0, message) : message;
  return (async function* () {
    yield body;
  })();
}
