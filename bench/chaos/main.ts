// `npm run chaos -- --minutes N [--seed S]`: the chaos soak. Builds the cluster in network
// namespaces, submits a stream of small jobs, injects a seeded schedule of faults, waits until every
// job ended, checks the invariants and writes the report. Exit 0 with no violation, 1 with some,
// 77 when this machine cannot run it (not root, no `ip netns`). Everything it starts is removed at
// the end, on failure and on Ctrl-C.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, sleep } from './cluster.js';
import { type FaultRecord, inject } from './faults.js';
import { checkInvariants } from './invariants.js';
import { JobStream, makeSources, openJobs } from './jobs.js';
import { cannotRunReason, removeStaleNamespaces } from './net.js';
import { renderReport } from './report.js';
import { countByKind, FaultKind, makeSchedule } from './schedule.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    seed: { type: 'string' },
    'baseline-minutes': { type: 'string' },
    workers: { type: 'string', default: '3' },
    'lease-seconds': { type: 'string', default: '8' },
    'job-interval-seconds': { type: 'string', default: '6' },
    'drain-minutes': { type: 'string', default: '8' },
    'max-open-jobs': { type: 'string' },
    report: { type: 'string', default: 'bench/CHAOS.md' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const minutes = Number(values.minutes);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const baselineMinutes =
  values['baseline-minutes'] === undefined ? Math.max(0.5, minutes / 4) : Number(values['baseline-minutes']);
const workers = Number(values.workers);
const leaseSeconds = Number(values['lease-seconds']);
for (const [name, v] of Object.entries({ minutes, seed, baselineMinutes, workers, leaseSeconds })) {
  if (!Number.isFinite(v) || v < 0) {
    console.error(`chaos: bad --${name}`);
    process.exit(2);
  }
}

const reason = await cannotRunReason();
if (reason) {
  console.log(`chaos soak skipped: ${reason}`);
  process.exit(77);
}
for (const ns of await removeStaleNamespaces())
  console.log(`removed a stale namespace of an earlier soak: ${ns}`);

const startedAt = new Date();
const runDir = await mkdtemp(path.join(tmpdir(), `avc-${process.pid}-`));
const cluster = new Cluster({ runDir, workers, leaseSeconds, maxAttempts: 5 });
let cleaning: Promise<void> | undefined;
let stream: JobStream | undefined;
const cleanup = () => {
  cleaning ??= (async () => {
    stream?.abort();
    await cluster.stop().catch((e: unknown) => console.error(`chaos: cleanup: ${(e as Error).message}`));
    if (!values.keep) await rm(runDir, { recursive: true, force: true, maxRetries: 3 });
  })();
  return cleaning;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`chaos: ${signal}, removing the cluster`);
    void cleanup().then(() => process.exit(130));
  });
}

const schedule = makeSchedule({
  seed,
  faultPhaseMs: minutes * 60_000,
  workers,
  leaseMs: leaseSeconds * 1000,
  meanGapMs: 3_000,
});
console.log(`chaos: seed ${seed} (replay: npm run chaos -- --minutes ${minutes} --seed ${seed})`);
console.log(`chaos: ${schedule.length} faults scheduled: ${JSON.stringify(countByKind(schedule))}`);
console.log(`chaos: run folder ${runDir}`);

let exitCode = 1;
try {
  await cluster.start();
  const sources = await makeSources(cluster);
  // Two jobs per worker keep every worker busy between faults.
  const maxOpen = values['max-open-jobs'] === undefined ? 2 * workers : Number(values['max-open-jobs']);
  stream = new JobStream(cluster, sources, Number(values['job-interval-seconds']) * 1000, maxOpen);
  stream.start();
  console.log(`chaos: cluster up, ${baselineMinutes} min without faults`);
  await sleep(baselineMinutes * 60_000);

  stream.setPhase('faults');
  const faultPhaseStart = Date.now();
  console.log(`chaos: ${minutes} min of faults`);
  const records: FaultRecord[] = [];
  // Faults on one target run one after another: a restart that takes longer than planned on a
  // loaded machine delays the target's next fault instead of killing the half-started program.
  const lastOnTarget = new Map<string, Promise<void>>();
  const injected = schedule.map((fault) => {
    const previous = lastOnTarget.get(fault.target) ?? Promise.resolve();
    const done = (async () => {
      await Promise.all([sleep(fault.atMs), previous]);
      const record = await inject(cluster, fault);
      records.push(record);
      if (record.error) console.log(`chaos: ${fault.kind} ${fault.target} failed: ${record.error}`);
    })();
    lastOnTarget.set(fault.target, done);
    return done;
  });
  await sleep(minutes * 60_000);
  await stream.stop();
  await Promise.all(injected);
  const restarted = await cluster.restartStopped();
  if (restarted.length > 0)
    console.log(`chaos: started again after failed restarts: ${restarted.join(', ')}`);
  console.log(`chaos: faults over (${records.length}), draining`);

  // The drain goes on while jobs keep ending; --drain-minutes without any job ending is a stall.
  const drainMs = Number(values['drain-minutes']) * 60_000;
  let drainDeadline = Date.now() + drainMs;
  let lastOpen = Number.POSITIVE_INFINITY;
  while (Date.now() < drainDeadline) {
    const open = await openJobs(cluster);
    if (open === 0) break;
    if (open !== undefined && open < lastOpen) {
      lastOpen = open;
      drainDeadline = Date.now() + drainMs;
    }
    await sleep(2_000);
  }

  console.log('chaos: checking invariants');
  const result = await checkInvariants(cluster, records, path.join(runDir, 'scratch'));
  const hits = await faultHits(cluster, records, leaseSeconds * 1000);
  const report = renderReport({
    seed,
    minutes,
    baselineMinutes,
    workers,
    leaseSeconds,
    maxOpen,
    faultPhaseStart,
    startedAt,
    wallSeconds: (Date.now() - startedAt.getTime()) / 1000,
    scheduled: schedule,
    faults: records,
    hits,
    submissions: stream.submissions.length,
    submitTries: stream.submissions.reduce((t, s) => t + s.tries, 0),
    result,
  });
  await writeFile(values.report, report);
  if (values.json) {
    await writeFile(
      values.json,
      JSON.stringify({
        seed,
        violations: result.violations,
        jobs: result.jobs.length,
        faults: records.length,
      }),
    );
  }
  console.log(report);
  for (const s of stream.submissions.filter((x) => x.errors.length > 0))
    console.log(`chaos: submit ${s.index} (${s.tries} tries): ${s.errors.join(' | ')}`);
  console.log(`chaos: ${result.violations.length} violations; report in ${values.report}`);
  exitCode = result.violations.length === 0 ? 0 : 1;
} catch (error) {
  console.error(`chaos: ${(error as Error).stack ?? error}`);
  console.error(`chaos: logs were in ${runDir}/logs (use --keep to keep them)`);
} finally {
  await cleanup();
}
process.exit(exitCode);

/** For each kind, the faults whose worker held a task when it began (from task_runs); pauses past the lease apart. */
async function faultHits(
  c: Cluster,
  records: FaultRecord[],
  leaseMs: number,
): Promise<Record<string, number>> {
  const runs = await c.sql<{ worker_id: string; started_at: string; ended_at: string | null }>(
    'SELECT worker_id, started_at, ended_at FROM task_runs',
  );
  const hits: Record<string, number> = {};
  for (const f of records) {
    if (!f.target.startsWith('w')) continue;
    const held = runs.some(
      (r) =>
        r.worker_id === f.target &&
        Number(r.started_at) <= f.startedAt &&
        (r.ended_at === null || Number(r.ended_at) >= f.startedAt),
    );
    if (!held) continue;
    hits[f.kind] = (hits[f.kind] ?? 0) + 1;
    if (f.kind === FaultKind.WorkerPause && f.durationMs > leaseMs)
      hits['pause-past-lease'] = (hits['pause-past-lease'] ?? 0) + 1;
  }
  return hits;
}
