// Small helpers for the plain HTTP routes next to the RPCs (/metrics, /healthz,
// /readyz, the console's files): the request's path and a text answer.
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Registry } from 'prom-client';

export type HttpRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type HttpResponse = http.ServerResponse | http2.Http2ServerResponse;

/** The path of `req` without its query. */
export function pathOf(req: HttpRequest): string {
  return (req.url ?? '').split('?', 1)[0] ?? '';
}

/** Answers with `status` and a text body (plain text unless `type` says otherwise). */
export function answer(
  res: HttpResponse,
  status: number,
  body: string,
  type = 'text/plain; charset=utf-8',
): void {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

/** Answers with the registry's metrics in the Prometheus text format (500 when a gauge cannot be read). */
export async function answerMetrics(res: HttpResponse, registry: Registry): Promise<void> {
  try {
    const text = await registry.metrics();
    answer(res, 200, text, registry.contentType);
  } catch (err) {
    answer(res, 500, `metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
