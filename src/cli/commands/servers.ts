// `avspl1t coordinator` and `avspl1t worker`: the long-running programs.
import type { Command } from 'commander';
import { z } from 'zod';
import { startCoordinator } from '../../coordinator/index.js';
import { createLogger } from '../../log.js';
import { Worker } from '../../worker/index.js';
import {
  boundedIntFlag,
  coordinatorFlag,
  defaultCoordinator,
  httpListenFlag,
  listenFlag,
  logFormatFlag,
  logLevelFlag,
  metricsListenFlag,
  parseWith,
  positiveIntFlag,
} from '../options.js';
import {
  coordinatorSecurity,
  coordinatorSecurityFlags,
  workerSecurity,
  workerSecurityFlags,
} from '../security.js';
import { onShutdownSignals } from '../signals.js';

const coordinatorSchema = z.object({
  listen: listenFlag,
  db: z.string().min(1, '--db must not be empty'),
  dbPoolSize: positiveIntFlag('db-pool-size'),
  // A day at most: workers are sent a third of it in ms as a uint32.
  leaseSeconds: boundedIntFlag('lease-seconds', 86_400),
  maxAttempts: positiveIntFlag('max-attempts'),
  maxConnections: positiveIntFlag('max-connections'),
  maxRequestMb: positiveIntFlag('max-request-mb'),
  httpListen: httpListenFlag.optional(),
  logLevel: logLevelFlag,
  logFormat: logFormatFlag,
});

const workerSchema = z.object({
  coordinator: coordinatorFlag,
  concurrency: positiveIntFlag('concurrency'),
  threads: positiveIntFlag('threads').optional(),
  id: z.string().optional(),
  tmpDir: z.string().optional(),
  metricsListen: metricsListenFlag.optional(),
  logLevel: logLevelFlag,
  logFormat: logFormatFlag,
});

/** Adds the `coordinator` and `worker` commands. */
export function registerServers(program: Command): void {
  coordinatorSecurityFlags(program.command('coordinator'))
    .description('serve the coordinator (gRPC) with its state in SQLite or PostgreSQL')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:50051')
    .option('--db <file|url>', 'SQLite file or postgres:// URL', 'avspl1t.db')
    .option('--db-pool-size <n>', 'most PostgreSQL connections this coordinator opens', '10')
    .option('--lease-seconds <n>', 'a task without heartbeat for this long goes to another worker', '15')
    .option('--max-attempts <n>', 'tries of a task before a transient failure fails the job', '3')
    .option('--max-connections <n>', 'open connections at most; more are refused as they arrive', '10000')
    .option('--max-request-mb <n>', 'largest request message read, in MiB (larger: RESOURCE_EXHAUSTED)', '64')
    .option('--console', 'serve the web console at /console/ (its data needs a client token when auth is on)')
    .option(
      '--http-listen <host:port>',
      'serve /metrics, /healthz, /readyz (and the console) on this plain HTTP address instead of the API port',
    )
    .option(
      '--no-store-credentials',
      'refuse jobs that carry S3 keys: no secret is ever stored; workers use their own AWS credentials',
    )
    .option('--log-level <level>', 'silent | error | warn | info | debug', 'info')
    .option('--log-format <format>', 'json | pretty (default: pretty on a terminal, else json)')
    .action(async (raw: Record<string, string>) => {
      const o = parseWith(coordinatorSchema, raw);
      const security = coordinatorSecurity(raw as Parameters<typeof coordinatorSecurity>[0]);
      const log = createLogger(o.logLevel, 'coordinator', o.logFormat);
      const running = await startCoordinator({
        ...security,
        listen: o.listen,
        db: o.db,
        dbPoolSize: o.dbPoolSize,
        leaseMs: o.leaseSeconds * 1000,
        maxAttempts: o.maxAttempts,
        connections: { maxConnections: o.maxConnections },
        maxRequestBytes: o.maxRequestMb * 1024 * 1024,
        httpListen: o.httpListen,
        console: (raw as { console?: boolean }).console === true,
        refuseCredentials: (raw as { storeCredentials?: boolean }).storeCredentials === false,
        log,
      });
      // The address on stdout (one line) lets scripts find a port chosen with :0.
      process.stdout.write(`${running.address}\n`);
      if (running.httpAddress) process.stdout.write(`http ${running.httpAddress}\n`);
      await new Promise<void>((resolve) => {
        const uninstall = onShutdownSignals((_urgent, signal) => {
          log.info({ signal }, 'shutting down');
          uninstall();
          running.close().then(resolve, resolve);
        });
      });
    });

  workerSecurityFlags(program.command('worker'))
    .description(
      'run tasks for a coordinator until stopped (SIGTERM: finish current tasks; twice: give them back)',
    )
    .option('--coordinator <host:port>', 'coordinator address', defaultCoordinator())
    .option('--concurrency <n>', 'tasks run at once', '1')
    .option('--threads <n>', 'encoder threads per task (default: cores / tasks at once, at least 1)')
    .option('--id <name>', 'worker id (default: hostname-pid)')
    .option(
      '--tmp-dir <dir>',
      'parent of the per-task temp dirs, checked at start (default: <OS temp dir>/avspl1t-worker-<uid>)',
    )
    .option(
      '--metrics-listen <host:port>',
      'serve /metrics and /healthz (coordinator connection state) on this plain HTTP address',
    )
    .option('--log-level <level>', 'silent | error | warn | info | debug', 'info')
    .option('--log-format <format>', 'json | pretty (default: pretty on a terminal, else json)')
    .action(async (raw: Record<string, string>) => {
      const o = parseWith(workerSchema, raw);
      const log = createLogger(o.logLevel, 'worker', o.logFormat);
      const { metrics, metricsServer } = o.metricsListen
        ? await workerMetrics(o.metricsListen)
        : { metrics: undefined, metricsServer: undefined };
      if (metricsServer) {
        log.info({ address: metricsServer.address }, 'metrics listening');
        // The address on stdout (one line) lets scripts find a port chosen with :0.
        process.stdout.write(`metrics ${metricsServer.address}\n`);
      }
      const worker = await Worker.start({
        ...workerSecurity(raw as Parameters<typeof workerSecurity>[0]),
        coordinator: o.coordinator,
        concurrency: o.concurrency,
        threads: o.threads,
        id: o.id,
        tmpRoot: o.tmpDir,
        metrics,
        log,
      });
      const uninstall = onShutdownSignals((urgent) => void worker.stop({ giveBack: urgent }));
      await worker.done;
      uninstall();
      await metricsServer?.close();
    });
}

/**
 * The worker's metrics and their HTTP server on `listen`. prom-client loads only here:
 * every command starts by loading this file, and a short `encode` feels each module.
 */
async function workerMetrics(listen: string) {
  const { WorkerMetrics } = await import('../../metrics/worker-metrics.js');
  const { serveWorkerMetrics } = await import('../../worker/metrics-server.js');
  const metrics = new WorkerMetrics();
  return { metrics, metricsServer: await serveWorkerMetrics(metrics, listen) };
}
