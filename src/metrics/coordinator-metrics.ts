// The coordinator's Prometheus metrics: task counters and latencies told by the
// coordinator as they happen (a TaskObserver), and gauges of jobs, tasks and
// workers read from the database when Prometheus scrapes.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { TaskEnd, TaskObserver } from '../coordinator/task-observer.js';
import type { StateCounts } from '../db/index.js';
import type { FinishTaskRequest, Task } from '../gen/avspl1t/v1/coordinator_pb.js';

/** What the gauges read at scrape time. */
export interface CoordinatorReads {
  stateCounts(): Promise<StateCounts>;
  /** Workers heard from (poll, claim or heartbeat) within a lease. */
  workersConnected(): Promise<number>;
}

/** An encode handed out, remembered until its finish to time it. */
interface EncodeStart {
  encoder: string;
  preset: string;
  startedMs: number;
}

/** Encodes remembered at most (a task whose finish goes to another coordinator is never removed). */
const MAX_ENCODES_TIMED = 10_000;

/** Latency buckets in seconds: a claim or finish is a few database statements. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class CoordinatorMetrics implements TaskObserver {
  readonly registry = new Registry();
  private readonly handedOutTotal: Counter<'kind'>;
  private readonly endedTotal: Record<Exclude<TaskEnd, 'cancelled'>, Counter<'kind'>>;
  private readonly expiredTotal: Counter;
  private readonly claimSeconds: Histogram<'result'>;
  private readonly finishSeconds: Histogram<'accepted'>;
  private readonly heartbeatSeconds: Histogram<'lease_valid'>;
  private readonly encodeSpeed: Histogram<'encoder' | 'preset'>;
  private readonly encodes = new Map<string, EncodeStart>();

  constructor(reads: CoordinatorReads) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['kind'] as const, registers });
    this.handedOutTotal = counter('avspl1t_tasks_handed_out_total', 'Tasks leased to a worker, by kind.');
    this.endedTotal = {
      succeeded: counter('avspl1t_tasks_finished_total', 'Tasks finished with a result, by kind.'),
      failed: counter('avspl1t_tasks_failed_total', 'Task failures that failed the job, by kind.'),
      retried: counter('avspl1t_tasks_retried_total', 'Task failures queued again for a retry, by kind.'),
      'given-back': counter(
        'avspl1t_tasks_given_back_total',
        'Tasks a stopping worker gave back unrun or unfinished, by kind.',
      ),
    };
    this.expiredTotal = new Counter({
      name: 'avspl1t_lease_expiries_total',
      help: 'Leases that expired without a heartbeat (their tasks requeued or failed).',
      registers,
    });
    this.claimSeconds = new Histogram({
      name: 'avspl1t_claim_duration_seconds',
      help: 'GetTask calls, from arrival to answer (long-poll wait included), by whether a task was handed out.',
      labelNames: ['result'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.finishSeconds = new Histogram({
      name: 'avspl1t_finish_duration_seconds',
      help: 'FinishTask calls, from arrival to the result recorded, by whether the finish was accepted.',
      labelNames: ['accepted'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.heartbeatSeconds = new Histogram({
      name: 'avspl1t_heartbeat_duration_seconds',
      help: 'Heartbeat calls, from arrival to the lease extended (or found lost), by whether the lease was held.',
      labelNames: ['lease_valid'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.encodeSpeed = new Histogram({
      name: 'avspl1t_encode_seconds_per_video_second',
      help: 'Wall time of an encode task (hand-out to finish) per second of video it made, by encoder and preset.',
      labelNames: ['encoder', 'preset'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64],
      registers,
    });
    new Gauge({
      name: 'avspl1t_tasks',
      help: 'Tasks in the database by state (queued: the queue depth).',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        this.reset();
        for (const [state, n] of (await reads.stateCounts()).tasks) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'avspl1t_jobs',
      help: 'Jobs in the database by state.',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        this.reset();
        for (const [state, n] of (await reads.stateCounts()).jobs) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'avspl1t_workers_connected',
      help: 'Workers heard from (poll, claim or heartbeat) within one lease length.',
      registers,
      async collect() {
        this.set(await reads.workersConnected());
      },
    });
  }

  claimed(task: Task | undefined, ms: number): void {
    this.claimSeconds.observe({ result: task ? 'task' : 'none' }, ms / 1000);
    if (task) this.handedOut(task);
  }

  handedOut(task: Task): void {
    const kind = task.kind.case;
    if (!kind) return;
    this.handedOutTotal.inc({ kind });
    if (kind !== 'encode' || !task.lease) return;
    const settings = task.kind.value.settings;
    if (this.encodes.size >= MAX_ENCODES_TIMED) {
      const oldest = this.encodes.keys().next().value;
      if (oldest !== undefined) this.encodes.delete(oldest);
    }
    this.encodes.set(task.lease, {
      encoder: settings?.encoder || 'svt',
      preset: String(settings?.preset ?? ''),
      startedMs: Date.now(),
    });
  }

  finished(req: FinishTaskRequest, ended: { kind: string; end: TaskEnd } | undefined, ms: number): void {
    this.finishSeconds.observe({ accepted: String(!!ended) }, ms / 1000);
    const start = this.encodes.get(req.lease);
    this.encodes.delete(req.lease);
    // A task whose job ended while it ran is counted by no outcome.
    if (!ended || ended.end === 'cancelled') return;
    this.endedTotal[ended.end].inc({ kind: ended.kind });
    if (start && ended.end === 'succeeded' && req.result.case === 'encode') {
      const videoSeconds = req.result.value.segments.reduce(
        (s, seg) => s + seg.duration / (seg.timescale || 1),
        0,
      );
      if (videoSeconds > 0)
        this.encodeSpeed.observe(
          { encoder: start.encoder, preset: start.preset },
          (Date.now() - start.startedMs) / 1000 / videoSeconds,
        );
    }
  }

  heartbeat(leaseValid: boolean, ms: number): void {
    this.heartbeatSeconds.observe({ lease_valid: String(leaseValid) }, ms / 1000);
  }

  leasesExpired(count: number): void {
    this.expiredTotal.inc(count);
  }
}
