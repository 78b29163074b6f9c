// The worker's HTTP port (`--metrics-listen`): /metrics for Prometheus and
// /healthz answering with the coordinator connection state (200 connected,
// 503 connecting or unreachable). Plain HTTP, no token: keep it inside the cluster.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { answer, answerMetrics, pathOf } from '../metrics/http-answer.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { formatHostPort, parseHostPort } from '../rpc/address.js';

export interface MetricsServer {
  /** `host:port` listened on. */
  address: string;
  close(): Promise<void>;
}

/** Serves `metrics` on `listen` (`host:port`, port 0 picks a free one). */
export async function serveWorkerMetrics(metrics: WorkerMetrics, listen: string): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = pathOf(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'GET only\n');
    if (path === '/metrics') return void answerMetrics(res, metrics.registry);
    if (path === '/healthz') {
      const { state, sinceMs } = metrics.coordinator();
      const body = JSON.stringify({ coordinator: state, since: new Date(sinceMs).toISOString() });
      return answer(res, state === 'connected' ? 200 : 503, `${body}\n`, 'application/json');
    }
    answer(res, 404, 'not found\n');
  });
  const { host, port } = parseHostPort(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    address: formatHostPort({ host: addr.address, port: addr.port }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
