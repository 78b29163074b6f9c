// The worker: `concurrency` slots, each long-polling the coordinator for a task
// and running it. stop() stops taking tasks and lets running ones finish;
// stop({ giveBack: true }) aborts them and hands them back for others to run.
// Once stopping, reports to an unreachable coordinator are retried for a bounded time.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Task } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Logger, silentLogger } from '../log.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { type ClientHandle, type CoordinatorClient, connectCoordinator } from '../rpc/client.js';
import { fromRpcError } from '../rpc/errors.js';
import { Storage } from '../storage/index.js';
import { mediaOperations, type Operations } from './operations.js';
import { LocalBackoff, type RunnerDeps, releaseTask, runTask } from './run-task.js';
import { checkTmpRoot, defaultTmpRoot, LeftoverDirs, removeStaleTaskDirs } from './temp-dirs.js';

/** The long-poll wait a worker asks of the coordinator unless told otherwise. */
export const POLL_WAIT_MS = 5000;

export interface WorkerOptions {
  /** Coordinator address (`host:port` or URL), or a ready client. */
  coordinator: string | CoordinatorClient;
  /** Defaults to `<hostname>-<pid>`. */
  id?: string;
  /** Tasks run at once (default 1). */
  concurrency?: number;
  /** Threads each encode may use (default: cores / concurrency, at least 1). */
  threads?: number;
  /** Sent as the bearer token (the coordinator's worker token). */
  token?: string;
  /** Connect with TLS, trusting `ca` (PEM) in addition to the system roots. */
  tls?: { ca?: string | Buffer };
  /** Confines filesystem storage to these directories (ignored when `storage` is given). */
  allowedRoots?: string[];
  /** Defaults to the media module; tests inject fakes. */
  operations?: Operations;
  storage?: Storage;
  /** Parent of the per-task temp dirs (default `<os tmp>/avspl1t-worker-<uid>`). */
  tmpRoot?: string;
  heartbeatMs?: number;
  /** Long-poll wait asked of the coordinator. */
  pollWaitMs?: number;
  /** Told about tasks run and whether the coordinator answers (`--metrics-listen`). */
  metrics?: WorkerMetrics;
  log?: Logger;
}

/** The default worker id: `<hostname>-<pid>`. */
export function defaultWorkerId(): string {
  return `${os.hostname()}-${process.pid}`;
}

export class Worker {
  readonly id: string;
  /** Resolves when every slot has stopped. */
  readonly done: Promise<void>;
  private readonly stopping = new AbortController();
  private readonly giveBack = new AbortController();
  private readonly handle: ClientHandle | undefined;
  private readonly client: CoordinatorClient;
  private readonly deps: RunnerDeps;
  private readonly pollWaitMs: number;
  private readonly log: Logger;
  /** Tasks run at once (reported to the coordinator). */
  private readonly slots: number;
  private readonly metrics?: WorkerMetrics;

  private constructor(options: WorkerOptions) {
    this.id = options.id || defaultWorkerId();
    this.log = (options.log ?? silentLogger).child({ workerId: this.id });
    if (typeof options.coordinator === 'string') {
      this.handle = connectCoordinator(options.coordinator, { token: options.token, tls: options.tls });
      this.client = this.handle.client;
    } else {
      this.client = options.coordinator;
    }
    this.pollWaitMs = options.pollWaitMs ?? POLL_WAIT_MS;
    this.deps = {
      client: this.client,
      workerId: this.id,
      operations: options.operations ?? mediaOperations,
      storage:
        options.storage ??
        new Storage(options.allowedRoots?.length ? { fs: { allowedRoots: options.allowedRoots } } : {}),
      tmpRoot: options.tmpRoot ?? defaultTmpRoot(),
      heartbeatMs: options.heartbeatMs ?? 3000,
      // Concurrent encoders share the cores: one thread each costs less CPU per frame
      // than every encoder at full width, oversubscribed (bench/REPORT.md, "Numbers
      // behind constants").
      threads:
        options.threads ??
        Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, options.concurrency ?? 1))),
      log: this.log,
      giveBack: this.giveBack.signal,
      stopping: this.stopping.signal,
      localBackoff: new LocalBackoff(),
      metrics: options.metrics,
      leftovers: new LeftoverDirs(),
    };
    this.metrics = options.metrics;
    this.slots = Math.max(1, options.concurrency ?? 1);
    const slots = Array.from({ length: this.slots }, () => this.slot());
    this.done = Promise.all(slots).then(async () => {
      await this.removeLeftovers();
      this.handle?.close();
      this.log.info('worker stopped');
    });
  }

  /** Checks the temp dir is usable (else throws), cleans what dead workers left there, then starts polling. */
  static async start(options: WorkerOptions): Promise<Worker> {
    const root = options.tmpRoot ?? defaultTmpRoot();
    await checkTmpRoot(root);
    const stale = await removeStaleTaskDirs(root);
    const worker = new Worker(options);
    if (stale.length > 0) worker.log.info({ count: stale.length }, 'removed stale temp dirs');
    worker.log.info({ concurrency: options.concurrency ?? 1, tmpDir: root }, 'worker started');
    if (!options.storage && !options.allowedRoots?.length)
      worker.log.warn(
        'worker runs unconfined (started without --allowed-root): jobs may read and write any path this user can',
      );
    return worker;
  }

  /** Stops taking tasks; running ones finish, or are given back with `giveBack`. Resolves when all slots ended. */
  async stop(options: { giveBack?: boolean } = {}): Promise<void> {
    if (!this.stopping.signal.aborted) {
      this.log.info(
        { giveBack: !!options.giveBack },
        options.giveBack
          ? 'worker stopping: giving running tasks back'
          : 'worker stopping: no new tasks; running ones finish, reports retried 10 s at most (stop again: give them back now)',
      );
    }
    this.stopping.abort();
    if (options.giveBack) this.giveBack.abort();
    await this.done;
  }

  /** The last try at task folders that could not be removed; says which remain. */
  private async removeLeftovers(): Promise<void> {
    await this.deps.leftovers?.removeAll();
    const left = this.deps.leftovers?.remaining ?? [];
    if (left.length > 0)
      this.log.warn(
        { dirs: left },
        'temp dirs left behind (the next worker started on this temp dir removes them)',
      );
  }

  private async slot(): Promise<void> {
    let failures = 0;
    const stop = this.stopping.signal;
    // The next task, handed over by the coordinator with the last finish.
    let next: Task | undefined;
    while (!stop.aborted) {
      await this.deps.leftovers?.removeAll();
      let task = next;
      next = undefined;
      if (!task) {
        try {
          const res = await this.client.getTask(
            { workerId: this.id, waitMs: this.pollWaitMs, host: os.hostname(), slots: this.slots },
            { signal: stop, timeoutMs: this.pollWaitMs + 15_000 },
          );
          task = res.task;
          failures = 0;
          this.metrics?.reached(true);
        } catch (err) {
          if (stop.aborted) break;
          failures++;
          this.metrics?.reached(false);
          this.log.warn(
            { err: fromRpcError(err).message, failures },
            'cannot get a task from the coordinator',
          );
          await sleep(Math.min(250 * 2 ** failures, 5000), undefined, { signal: stop }).catch(() => {});
          continue;
        }
        if (!task) continue;
      }
      next = await runTask(this.deps, task, () => !stop.aborted);
    }
    // Handed a task as the worker began stopping: give it back unrun.
    if (next) await releaseTask(this.deps, next, 'worker stopping');
  }
}
