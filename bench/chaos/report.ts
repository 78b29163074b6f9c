// The soak's report (bench/CHAOS.md): faults by kind, jobs, task runs, invariant violations and
// job completion times without and with faults.

import type { FaultRecord } from './faults.js';
import type { CheckResult } from './invariants.js';
import { countByKind, type Fault, FaultKind } from './schedule.js';

export interface RunFacts {
  seed: number;
  minutes: number;
  baselineMinutes: number;
  workers: number;
  leaseSeconds: number;
  /** Jobs open at most at once (the stream waits below it). */
  maxOpen: number;
  faultPhaseStart: number;
  startedAt: Date;
  wallSeconds: number;
  scheduled: Fault[];
  faults: FaultRecord[];
  /** Faults that found their target holding a task (a run open at the fault's start). */
  hits: Record<string, number>;
  submissions: number;
  submitTries: number;
  result: CheckResult;
}

/** Nearest-rank percentile of `values` (sorted here), or undefined when empty. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** The report as Markdown. */
export function renderReport(f: RunFacts): string {
  const r = f.result;
  const done = countByKind(f.faults);
  const planned = countByKind(f.scheduled);
  const pastLease = f.faults.filter(
    (x) => x.kind === FaultKind.WorkerPause && x.durationMs > f.leaseSeconds * 1000,
  );
  const lines = [
    '# Chaos soak',
    '',
    `Written by \`npm run chaos -- --minutes ${f.minutes} --seed ${f.seed}\` (bench/chaos/), ${f.startedAt.toISOString()}:`,
    `${f.baselineMinutes} min without faults, then ${f.minutes} min of faults, then a drain until every job ended;`,
    `${f.wallSeconds.toFixed(0)} s in all. Cluster: PostgreSQL, the S3 server, two coordinators behind HAProxy`,
    `(mode tcp), ${f.workers} workers (1 slot, 1 thread each), each in its own network namespace;`,
    `lease ${f.leaseSeconds} s; a new job every few seconds while fewer than ${f.maxOpen} are open.`,
    'The same seed replays the same fault schedule.',
    '',
    '## Faults injected',
    '',
    '| kind | scheduled | injected | found a task running | errors |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...Object.values(FaultKind).map(
      (k) =>
        `| ${k} | ${planned[k]} | ${done[k]} | ${f.hits[k] ?? '-'} | ${f.faults.filter((x) => x.kind === k && x.error).length} |`,
    ),
    '',
    `Worker pauses past the lease (pause-past-lease trials): ${pastLease.length}, of which ${f.hits['pause-past-lease'] ?? 0} paused a worker holding a task.`,
    ...f.faults.filter((x) => x.error).map((x) => `- ${x.kind} ${x.target}: ${x.error}`),
    '',
    '## Jobs',
    '',
    `Submitted ${f.submissions} (${f.submitTries} submit commands; a refused or unanswered submit is tried again into a fresh folder).`,
    '',
    '| state | jobs |',
    '| --- | ---: |',
    ...['succeeded', 'failed', 'cancelled', 'queued', 'running'].map(
      (s) => `| ${s} | ${r.jobs.filter((j) => j.state === s).length} |`,
    ),
    '',
    `Outputs that passed the media checks (test/helpers/media-checks.ts): ${r.mediaChecked}.`,
    ...r.jobs
      .filter((j) => j.state === 'failed')
      .flatMap((j) => [
        `- failed ${j.id}: ${j.failure_reason}`,
        ...(r.failedRuns[j.id] ?? []).map((x) => `  - ${x}`),
      ]),
    '',
    `Task runs by outcome: ${Object.entries(r.runOutcomes)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}.`,
    '',
    '## Completion time (submit to end, succeeded jobs)',
    '',
    '| phase | jobs | p50 | p99 |',
    '| --- | ---: | ---: | ---: |',
    ...completionRows(f),
    '',
    '## Coordinators answering (a Connect call through HAProxy every second, 10 s timeout)',
    '',
    `${r.probe.probes} calls, ${r.probe.answered} answered, ${r.probe.excused} of the unanswered ones while a coordinator fault began or ended (HAProxy switching) or all were down;`,
    `every coordinator down at once for ${seconds(r.probe.allDownMs)}; longest time without an answer ${seconds(r.probe.longestSilenceMs)}`,
    '(a violation: more than 15 s without an answer outside coordinator faults).',
    '',
    `## Invariant violations: ${r.violations.length}`,
    '',
    ...r.violations.slice(0, 50).map((v) => `- ${v.invariant}: ${v.detail}`),
    ...(r.violations.length > 50 ? [`- ... ${r.violations.length - 50} more`] : []),
    '',
    `## Findings outside the invariants: ${r.findings.length}`,
    '',
    ...r.findings.map((x) => `- ${x}`),
    '',
    '## Fault timeline',
    '',
    'Seconds after the fault phase began (wall clock in ms in brackets), kind, target, how long.',
    '',
    ...[...f.faults]
      .sort((a, b) => a.startedAt - b.startedAt)
      .map(
        (x) =>
          `- ${((x.startedAt - f.faultPhaseStart) / 1000).toFixed(1)} s [${x.startedAt}-${x.endedAt}] ${x.kind} ${x.target} ${(x.durationMs / 1000).toFixed(1)} s${x.error ? ` (error: ${x.error.split('\n')[0]})` : ''}`,
      ),
    '',
  ];
  return lines.join('\n');
}

function completionRows(f: RunFacts): string[] {
  const succeeded = f.result.jobs.filter((j) => j.state === 'succeeded' && j.finished_at !== null);
  const time = (j: (typeof succeeded)[number]) => Number(j.finished_at) - Number(j.created_at);
  const row = (name: string, ms: number[]) =>
    `| ${name} | ${ms.length} | ${seconds(percentile(ms, 50))} | ${seconds(percentile(ms, 99))} |`;
  return [
    row('without faults', succeeded.filter((j) => Number(j.created_at) < f.faultPhaseStart).map(time)),
    row('under faults', succeeded.filter((j) => Number(j.created_at) >= f.faultPhaseStart).map(time)),
  ];
}
