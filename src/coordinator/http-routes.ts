// The coordinator's plain HTTP routes, served on the API port (or on
// `--http-listen`): /metrics (Prometheus), /healthz (the process answers),
// /readyz (database reachable, migrations current) and, when turned on, the
// console's files under /console/. Anything else goes on to the RPC handler.

import type { Registry } from 'prom-client';
import type { TaskStore } from '../db/index.js';
import { errorMessage } from '../errors.js';
import {
  answer,
  answerMetrics,
  type HttpRequest,
  type HttpResponse,
  pathOf,
} from '../metrics/http-answer.js';

export interface HttpRoutesOptions {
  /** The metrics for /metrics; undefined: no /metrics route. */
  registry?: Registry;
  /** Resolves when the database answers with every migration applied; throws why not. */
  checkReady: () => Promise<void>;
  /** Checks the request's `authorization` header for a client token (throws); undefined: /metrics is open. */
  authorizeMetrics?: (authorization: string | undefined) => void;
  /** Serves a console file, or answers false when the path is not one (console off: undefined). */
  console?: (req: HttpRequest, res: HttpResponse) => Promise<boolean> | boolean;
}

/** How long /readyz waits for the database before answering 503. */
const READY_TIMEOUT_MS = 2000;

/** A handler that serves the plain routes and answers false for any other path. */
export function httpRoutes(options: HttpRoutesOptions): (req: HttpRequest, res: HttpResponse) => boolean {
  return (req, res) => {
    const path = pathOf(req);
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (read && path === '/healthz') {
      answer(res, 200, 'ok\n');
      return true;
    }
    if (read && path === '/readyz') {
      void ready(options.checkReady).then((problem) =>
        answer(res, problem ? 503 : 200, problem ? `not ready: ${problem}\n` : 'ready\n'),
      );
      return true;
    }
    if (read && path === '/metrics' && options.registry) {
      try {
        options.authorizeMetrics?.(req.headers.authorization);
      } catch (err) {
        res.setHeader('www-authenticate', 'Bearer');
        answer(res, 401, `${errorMessage(err)}\n`);
        return true;
      }
      void answerMetrics(res, options.registry);
      return true;
    }
    if (read && options.console && (path === '/console' || path.startsWith('/console/'))) {
      void Promise.resolve(options.console(req, res))
        .catch(() => false)
        .then((served) => {
          if (!served) answer(res, 404, 'not found\n');
        });
      return true;
    }
    return false;
  };
}

/** Answers while the database is being opened: /healthz yes, /readyz and everything else 503 (RPC: UNAVAILABLE). */
export function answerWhileWaiting(req: HttpRequest, res: HttpResponse, reason: string): void {
  const path = pathOf(req);
  if (path === '/healthz') answer(res, 200, 'ok\n');
  else answer(res, 503, `not ready: ${reason}\n`);
}

/** Why the coordinator is not ready, or undefined when it is. */
async function ready(check: () => Promise<void>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`the database did not answer within ${READY_TIMEOUT_MS} ms`),
      READY_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([check().then(() => undefined), timeout]);
  } catch (err) {
    return errorMessage(err);
  } finally {
    clearTimeout(timer);
  }
}

/** Throws unless the database answers and has applied every migration this coordinator knows. */
export async function checkSchemaCurrent(store: TaskStore): Promise<void> {
  const missing = await store.missingMigrations();
  if (missing.length > 0) throw new Error(`migrations not applied: ${missing.join(', ')}`);
}
