// Optional bearer-token authentication as gRPC metadata (`authorization:
// Bearer <token>`): a client interceptor that sends a token and the server's
// request gate that checks it from the headers, before any of the body is read.
// Workers' RPCs need the worker token; client RPCs take a client token or the
// worker token (the farm's own secret).
import { createHash, timingSafeEqual } from 'node:crypto';
import { Code, ConnectError, type HandlerContext, type Interceptor } from '@connectrpc/connect';

/** Methods only workers call. */
export const WORKER_METHODS: ReadonlySet<string> = new Set(['GetTask', 'Heartbeat', 'FinishTask']);

export interface AuthConfig {
  /** Shared secret of the workers; also accepted for client RPCs. */
  workerToken?: string;
  /** Tokens accepted for client RPCs (submit, status, list, watch, cancel). */
  clientTokens?: string[];
}

/** Whether `config` turns authentication on (any token configured). */
export function authEnabled(config: AuthConfig): boolean {
  return !!config.workerToken || (config.clientTokens ?? []).some((t) => t !== '');
}

/** Sends `token` with every call. */
export function bearerInterceptor(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison of a presented token with the accepted ones. */
function matches(presented: Buffer, accepted: Buffer[]): boolean {
  let ok = false;
  for (const a of accepted) ok = timingSafeEqual(presented, a) || ok;
  return ok;
}

/** Throws UNAUTHENTICATED unless `authorization` (the header) carries a token accepted for `method`. */
export type Authorize = (method: string, authorization: string | undefined) => void;

/**
 * The one token check: throws UNAUTHENTICATED unless `authorization` carries a
 * token accepted for `method`; undefined when no token is configured (every
 * call is served).
 */
export function authorizer(config: AuthConfig): Authorize | undefined {
  if (!authEnabled(config)) return undefined;
  const worker = config.workerToken ? [digest(config.workerToken)] : [];
  const clients = [...worker, ...(config.clientTokens ?? []).filter((t) => t !== '').map(digest)];
  return (method, authorization) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) throw new ConnectError('missing bearer token (authorization metadata)', Code.Unauthenticated);
    const accepted = WORKER_METHODS.has(method) ? worker : clients;
    if (!matches(digest(m[1] ?? ''), accepted))
      throw new ConnectError(`invalid token for ${method}`, Code.Unauthenticated);
  };
}

/**
 * The token check as the server's connect-es request gate: run on a call's
 * headers before any of its body is read, so an unauthenticated call costs no
 * body. Undefined when no token is configured.
 */
export function authGate(config: AuthConfig): ((context: HandlerContext) => void) | undefined {
  const check = authorizer(config);
  return (
    check &&
    (({ method, requestHeader }) => check(method.name, requestHeader.get('authorization') ?? undefined))
  );
}
