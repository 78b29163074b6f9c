// Runs one claimed task: private temp dir, heartbeats, timeout, the operation,
// then FinishTask with the result or a classified failure. Never throws: a bad
// task is reported, not allowed to take the worker down.
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, ErrorKind } from '../errors.js';
import type { FinishTaskRequest, Task } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Logger } from '../log.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { CoordinatorClient } from '../rpc/client.js';
import { fromRpcError } from '../rpc/errors.js';
import type { Storage } from '../storage/index.js';
import { setLongTimeout } from '../timers.js';
import { displayCommand } from './command-line.js';
import { type StopKind, startHeartbeat } from './heartbeat.js';
import { type Operations, runOperation, type TaskResult } from './operations.js';
import { type LeftoverDirs, makeTaskDir, removeTaskDir } from './temp-dirs.js';

export interface RunnerDeps {
  client: CoordinatorClient;
  workerId: string;
  operations: Operations;
  storage: Storage;
  tmpRoot: string;
  heartbeatMs: number;
  /** Threads each encode may use. */
  threads?: number;
  log: Logger;
  /** Aborted when the worker must give its tasks back (hard shutdown). */
  giveBack: AbortSignal;
  /** Aborted when the worker stops taking tasks: ends a back-off early. */
  stopping?: AbortSignal;
  /** The worker's back-off after troubles of its own (its temp dir). */
  localBackoff?: LocalBackoff;
  /** Told how each task ran (the worker's metrics). */
  metrics?: WorkerMetrics;
  /** Where task folders that could not be removed are kept for another try. */
  leftovers?: LeftoverDirs;
}

/** Waits after the worker's own troubles: 5 s, doubling up to a minute; a task that runs resets it. */
export class LocalBackoff {
  private inARow = 0;
  /** The next wait, in milliseconds. */
  next(): number {
    return Math.min(60_000, 5000 * 2 ** this.inARow++);
  }
  reset(): void {
    this.inARow = 0;
  }
}

const LOCAL_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT']);

/** Whether `err` is a permission or space problem with a file under `dir` (the worker's, not the task's). */
export function isLocalProblem(err: unknown, dir: string | undefined): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    const { code, path, dest } = e as NodeJS.ErrnoException & { dest?: string };
    if (!code || !LOCAL_CODES.has(code)) continue;
    if (!dir || [path, dest].some((p) => p?.startsWith(dir))) return true;
  }
  return false;
}

type Stop = StopKind | 'shutdown' | 'timeout';

/** The segments an encode task makes ("3-5", or "4" for one); undefined for other kinds. */
function segmentRange(task: Task): string | undefined {
  if (task.kind.case !== 'encode') return undefined;
  const pieces = task.kind.value.pieces;
  if (pieces.length === 0) return undefined;
  const first = pieces[0]!.index;
  const last = pieces[pieces.length - 1]!.index;
  return first === last ? String(first) : `${first}-${last}`;
}

/** How long to keep trying to deliver a result while the coordinator is unreachable. */
const FINISH_RETRY_MS = 60_000;
/**
 * Once the worker is stopping: how long a report is retried (from the stop, or
 * from the report if later), and how long one try may take. An orchestrator's
 * grace period must cover it; an unreported task goes to another worker when
 * its lease expires anyway.
 */
const STOPPING_RETRY_MS = 10_000;
const STOPPING_CALL_MS = 3_000;

/**
 * Runs a task to the end and reports it. When `wantNext()` says so at the finish,
 * the finish also asks for the worker's next task: resolves to it, if one came.
 */
export async function runTask(
  deps: RunnerDeps,
  task: Task,
  wantNext: () => boolean = () => false,
): Promise<Task | undefined> {
  const ids = { jobId: task.jobId, taskId: task.id, kind: task.kind.case, attempt: task.attempt };
  const log = deps.log.child(ids);
  log.info('task started');
  const range = segmentRange(task);
  if (range) log.debug({ segments: range }, `encode segments ${range} of job ${task.jobId}`);
  const started = Date.now();
  const controller = new AbortController();
  let stop: Stop | undefined;
  const abort = (kind: Stop) => {
    if (stop) return;
    stop = kind;
    controller.abort(new AppError(ErrorKind.Cancelled, `task stopped: ${kind}`));
  };
  const onGiveBack = () => abort('shutdown');
  if (deps.giveBack.aborted) onGiveBack();
  deps.giveBack.addEventListener('abort', onGiveBack);
  const heartbeat = startHeartbeat({
    client: deps.client,
    workerId: deps.workerId,
    taskId: task.id,
    lease: task.lease,
    intervalMs:
      task.heartbeatIntervalMs > 0 ? Math.min(deps.heartbeatMs, task.heartbeatIntervalMs) : deps.heartbeatMs,
    log,
    onStop: abort,
  });
  const timer =
    task.timeoutSeconds > 0 ? setLongTimeout(() => abort('timeout'), task.timeoutSeconds * 1000) : undefined;

  let value: TaskResult | undefined;
  let error: AppError | undefined;
  let dir: string | undefined;
  let local = false;
  try {
    dir = await makeTaskDir(deps.tmpRoot).catch((err) => {
      local = true;
      throw err;
    });
    value = await runOperation(deps.operations, task, {
      storage: deps.storage,
      tmpDir: dir,
      signal: controller.signal,
      threads: deps.threads,
      onCommand: (program, args) => log.debug({ command: displayCommand(program, args) }, 'running ffmpeg'),
      onProgress: (f) => heartbeat.progress(f),
    });
  } catch (err) {
    error = AppError.from(err);
    local ||= isLocalProblem(err, dir);
  } finally {
    heartbeat.stop();
    timer?.clear();
    deps.giveBack.removeEventListener('abort', onGiveBack);
    const made = dir;
    if (made)
      await removeTaskDir(made).catch((err) => {
        deps.leftovers?.add(made);
        log.warn(
          { err: String(err), dir: made },
          'could not remove temp dir: the worker tries again between tasks and at shutdown',
        );
      });
  }

  if (stop === 'lease-lost' || stop === 'job-cancelled') {
    log.info({ reason: stop }, 'task abandoned');
    deps.metrics?.ran(task, Date.now() - started, { failure: stop });
    return undefined;
  }
  if (local && !value) {
    // This worker's trouble, not the task's: another worker may run it; this one waits before asking again.
    const wait = (deps.localBackoff ?? new LocalBackoff()).next();
    deps.metrics?.ran(task, Date.now() - started, { failure: 'local' });
    const reason = `worker ${deps.workerId} cannot use its temp dir ${deps.tmpRoot}: ${error?.message}`;
    log.error(
      { err: error?.message, backoffMs: wait },
      'task given back: this worker cannot use its temp dir',
    );
    await finish(deps, task, { case: 'failure', value: failure(reason, { released: true }) }, log, false);
    await sleep(wait, undefined, { signal: deps.stopping }).catch(() => {});
    return undefined;
  }
  if (value) deps.localBackoff?.reset();
  let result: FinishTaskRequest['result'];
  if (value) result = value;
  else if (stop === 'shutdown')
    result = { case: 'failure', value: failure('worker shutting down', { released: true }) };
  else if (stop === 'timeout')
    result = {
      case: 'failure',
      value: failure(`timed out after ${task.timeoutSeconds} s`, { transient: true }),
    };
  else {
    const e = error ?? new AppError(ErrorKind.Internal, 'operation returned nothing');
    const transient = e.kind === ErrorKind.Transient || e.kind === ErrorKind.Cancelled;
    log.warn({ errorKind: e.kind, err: e.message, transient }, 'task failed');
    result = { case: 'failure', value: failure(e.message, { transient }) };
  }
  if (result.case !== 'failure') deps.metrics?.ran(task, Date.now() - started, { result });
  else if (!result.value.released)
    deps.metrics?.ran(task, Date.now() - started, {
      failure: stop === 'timeout' ? 'timeout' : (error?.kind ?? 'unknown'),
    });
  const next = await finish(deps, task, result, log, wantNext());
  // A task handed back on a hard stop is not a failure: another worker runs it.
  if (result.case === 'failure' && result.value.released)
    log.info({ ms: Date.now() - started, outcome: 'given back' }, 'task given back: worker shutting down');
  else log.info({ ms: Date.now() - started, outcome: result.case }, 'task done');
  return next;
}

/** Gives a claimed task back unrun (the worker is stopping), without counting the attempt. */
export async function releaseTask(deps: RunnerDeps, task: Task, reason: string): Promise<void> {
  const log = deps.log.child({ jobId: task.jobId, taskId: task.id, kind: task.kind.case });
  await finish(deps, task, { case: 'failure', value: failure(reason, { released: true }) }, log, false);
}

function failure(reason: string, flags: { transient?: boolean; released?: boolean }) {
  return {
    $typeName: 'avspl1t.v1.TaskFailure' as const,
    reason,
    transient: flags.transient ?? false,
    released: flags.released ?? false,
  };
}

/**
 * Delivers the result, retrying while the coordinator is unreachable; resolves to
 * the next task when `wantNext` was asked and the coordinator had one.
 */
async function finish(
  deps: RunnerDeps,
  task: Task,
  result: FinishTaskRequest['result'],
  log: Logger,
  wantNext: boolean,
): Promise<Task | undefined> {
  let deadline = Date.now() + FINISH_RETRY_MS;
  let stoppingSeen = false;
  for (let attempt = 0; ; attempt++) {
    if (deps.stopping?.aborted && !stoppingSeen) {
      stoppingSeen = true;
      deadline = Math.min(deadline, Date.now() + STOPPING_RETRY_MS);
    }
    try {
      const res = await deps.client.finishTask(
        // Only the first attempt asks for a next task: a retry may follow a finish
        // that did land (with a claim whose answer was lost; its lease then expires).
        {
          workerId: deps.workerId,
          taskId: task.id,
          lease: task.lease,
          result,
          wantNext: wantNext && attempt === 0,
        },
        { timeoutMs: deps.stopping?.aborted ? STOPPING_CALL_MS : 15_000 },
      );
      if (!res.accepted) log.warn('coordinator ignored the result (lease lost)');
      return res.next;
    } catch (err) {
      const e = fromRpcError(err);
      // A second stop signal (give back now) ends the retries at once.
      if (e.kind !== ErrorKind.Transient || Date.now() > deadline || deps.giveBack.aborted) {
        log.error(
          { errorKind: e.kind, err: e.message, ...(stoppingSeen ? { reason: 'worker stopping' } : {}) },
          'could not report the task result',
        );
        return undefined;
      }
      // No slower than heartbeats: a restarted coordinator gives the lease one lease
      // time, and the result must land within it. A stop (then a second one) cuts the wait short.
      await sleep(Math.min(250 * 2 ** attempt, 5000, task.heartbeatIntervalMs || 5000), undefined, {
        signal: stoppingSeen ? deps.giveBack : deps.stopping,
      }).catch(() => {});
    }
  }
}
