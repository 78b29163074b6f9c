// A worker's Prometheus metrics and its coordinator connection state, served by
// `--metrics-listen` (see `../worker/metrics-server.ts`).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Task } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { TaskResult } from '../worker/operations.js';

/** Whether the worker's last call to the coordinator got an answer. */
export type CoordinatorState = 'connecting' | 'connected' | 'unreachable';

export class WorkerMetrics {
  readonly registry = new Registry();
  private state: CoordinatorState = 'connecting';
  private stateSinceMs = Date.now();
  private readonly connected: Gauge;
  private readonly runSeconds: Histogram<'kind' | 'outcome'>;
  private readonly encodeFps: Histogram<'encoder'>;
  private readonly uploadedBytes: Counter;
  private readonly failures: Counter<'kind' | 'reason'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.connected = new Gauge({
      name: 'avspl1t_worker_coordinator_connected',
      help: '1 when the last call to the coordinator was answered, else 0.',
      registers,
    });
    this.runSeconds = new Histogram({
      name: 'avspl1t_worker_task_run_seconds',
      help: 'Time a task ran (inputs read, ffmpeg, outputs written), by kind and outcome.',
      labelNames: ['kind', 'outcome'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.encodeFps = new Histogram({
      name: 'avspl1t_worker_encode_fps',
      help: 'Frames per second of wall time of each encode task, by encoder.',
      labelNames: ['encoder'] as const,
      buckets: [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers,
    });
    this.uploadedBytes = new Counter({
      name: 'avspl1t_worker_uploaded_bytes_total',
      help: 'Bytes of encoded media segments written to the output.',
      registers,
    });
    this.failures = new Counter({
      name: 'avspl1t_worker_task_failures_total',
      help: 'Tasks that failed on this worker, by kind and reason (the error kind, timeout, local).',
      labelNames: ['kind', 'reason'] as const,
      registers,
    });
  }

  /** The coordinator connection state and since when (ms since the epoch). */
  coordinator(): { state: CoordinatorState; sinceMs: number } {
    return { state: this.state, sinceMs: this.stateSinceMs };
  }

  /** Records whether a call to the coordinator was answered. */
  reached(ok: boolean): void {
    const state = ok ? 'connected' : 'unreachable';
    this.connected.set(ok ? 1 : 0);
    if (state === this.state) return;
    this.state = state;
    this.stateSinceMs = Date.now();
  }

  /** Records a task that ran for `ms`: its result, or the reason it failed. */
  ran(task: Task, ms: number, outcome: { result: TaskResult } | { failure: string }): void {
    const kind = task.kind.case ?? 'unknown';
    const ok = 'result' in outcome;
    this.runSeconds.observe({ kind, outcome: ok ? 'succeeded' : 'failed' }, ms / 1000);
    if (!ok) {
      this.failures.inc({ kind, reason: outcome.failure });
      return;
    }
    if (outcome.result.case !== 'encode' || task.kind.case !== 'encode') return;
    const segments = outcome.result.value.segments;
    const frames = segments.reduce((n, s) => n + s.frameCount, 0);
    this.uploadedBytes.inc(segments.reduce((n, s) => n + s.sizeBytes, 0));
    if (ms > 0)
      this.encodeFps.observe({ encoder: task.kind.value.settings?.encoder || 'svt' }, frames / (ms / 1000));
  }
}
