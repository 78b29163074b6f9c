// `npm run bench`: single-machine overhead on a 720p and a short clip and split quality (bench/overhead.ts),
// dispatch throughput and latency (bench/dispatch.ts) and the scale-out
// simulation (bench/scale-out.ts), the ladder against one ffmpeg command (bench/ladder.ts)
// and the scale-out with ladder-shaped jobs.
// `--only=overhead,short,quality,dispatch,scaleout,ladder,scaleladder` reruns some parts;
// the others keep their last results. Writes bench/results.json and bench/REPORT.md.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDispatch, sqliteFactory } from './dispatch.js';
import { LADDER_CLIPS, type LadderClip, runLadder } from './ladder.js';
import { machine } from './lib.js';
import { runOverhead, runShortOverhead } from './overhead.js';
import { type Results, renderReport } from './report.js';
import { type JobProfile, measureProfiles, runScaleOut } from './scale-out.js';
import { type LadderProfile, ladderShape, measureLadderProfile } from './scale-out-ladder.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const PARTS = ['overhead', 'short', 'quality', 'dispatch', 'scaleout', 'ladder', 'scaleladder'] as const;
const only = new Set((args.get('only') ?? PARTS.join(',')).split(','));
for (const p of only)
  if (!(PARTS as readonly string[]).includes(p))
    throw new Error(`--only: unknown part ${p} (${PARTS.join(', ')})`);
const log = (line: string) => console.error(line);
const num = (name: string, fallback: number) => Number(args.get(name) ?? fallback);

const resultsFile = path.join(root, 'bench', 'results.json');
/** The parts this run measured; merged into results.json (read at the end) so other parts keep theirs. */
const results = {} as Partial<Results>;
const previous: Partial<Results> = existsSync(resultsFile)
  ? JSON.parse(readFileSync(resultsFile, 'utf8'))
  : {};

if (only.has('overhead') || only.has('quality')) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-bench-'));
  try {
    // Quality alone needs one run of each; the overhead wants several.
    const runs = only.has('overhead') ? num('runs', 3) : 1;
    const r = await runOverhead({ root, dir, seconds: num('seconds', 30), runs, preset: num('preset', 8) });
    if (only.has('overhead')) results.overhead = r.overhead;
    results.splitQuality = r.splitQuality;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (only.has('short')) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-bench-'));
  try {
    results.shortOverhead = await runShortOverhead({ root, dir, runs: num('short-runs', 5) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (only.has('dispatch')) {
  // --dispatch=saturated,paced,idle reruns some of the dispatch tables.
  const dispatchParts = new Set(
    (args.get('dispatch') ?? 'saturated,paced,idle').split(',') as ('saturated' | 'paced' | 'idle')[],
  );
  const sqlite = sqliteFactory();
  const dbs: Parameters<typeof runDispatch>[0]['dbs'] = [['sqlite', sqlite.factory]];
  let stopPg: (() => Promise<void>) | undefined;
  if (args.get('postgres') !== 'no') {
    try {
      const helper = '../test/helpers/postgres.js';
      const { startPostgres } = (await import(helper)) as typeof import('../test/helpers/postgres.js');
      const pg = await startPostgres();
      stopPg = pg.stop;
      process.env.BENCH_PG_DATA = pg.dataDir;
      let n = 0;
      dbs.push(['postgres', () => pg.createDatabase(`bench_${n++}`)]);
    } catch (err) {
      log(`dispatch: no PostgreSQL (${(err as Error).message}); SQLite only`);
    }
  }
  try {
    results.dispatch = await runDispatch({
      dbs,
      workerCounts: (args.get('workers') ?? '1,50,500').split(',').map(Number),
      repeats: num('repeats', 3),
      pieces: num('pieces', 2000),
      pacedTaskMs: (args.get('paced-task-ms') ?? '10000,1000').split(',').map(Number),
      parts: dispatchParts,
      log,
    });
    // Tables not rerun keep their last results.
    const d = results.dispatch;
    const last = previous.dispatch;
    if (last && !dispatchParts.has('saturated')) d.saturated = last.saturated;
    if (last && !dispatchParts.has('paced')) d.paced = last.paced;
    if (last && !dispatchParts.has('idle')) d.idleToBusy = last.idleToBusy;
  } finally {
    await stopPg?.();
    sqlite.cleanup();
  }
}

if (only.has('scaleout')) {
  // --profiles=<json> replays given durations ({ranges, copies}) instead of measuring them again.
  const profiles: { ranges: JobProfile; copies: JobProfile } = args.get('profiles')
    ? JSON.parse(args.get('profiles')!)
    : await measureProfiles(600, 10, num('preset', 8));
  log(`scale-out profiles: ${JSON.stringify(profiles)}`);
  const msPerSecond = num('ms-per-second', 10);
  const dispatchPerSecond = num('dispatch-per-second', 20);
  const counts = (args.get('scale-workers') ?? '1,2,4,8,16,32,64,128').split(',').map(Number);
  const copyCounts = (args.get('copy-workers') ?? '16,64,128').split(',').map(Number);
  results.scaleOut = {
    profile: profiles.ranges,
    msPerSecond,
    dispatchPerSecond,
    rows: await runScaleOut(profiles.ranges, counts, msPerSecond, dispatchPerSecond, log),
    copies: {
      profile: profiles.copies,
      rows: await runScaleOut(profiles.copies, copyCounts, msPerSecond, dispatchPerSecond, log),
    },
  };
}

if (only.has('scaleladder')) {
  // --ladder-profile=<json> replays given durations instead of measuring them again.
  const profile: LadderProfile = args.get('ladder-profile')
    ? JSON.parse(args.get('ladder-profile')!)
    : await measureLadderProfile(600, 10, num('preset', 8));
  log(`scale-out ladder profile: ${JSON.stringify(profile)}`);
  const msPerSecond = num('ms-per-second', 10);
  const dispatchPerSecond = num('dispatch-per-second', 20);
  const counts = (args.get('ladder-workers') ?? '16,64,128').split(',').map(Number);
  const loadBefore = os.loadavg()[0]!;
  const rows = await runScaleOut(profile, counts, msPerSecond, dispatchPerSecond, log, ladderShape(profile));
  results.scaleOutLadder = {
    profile,
    msPerSecond,
    dispatchPerSecond,
    rows,
    load: [loadBefore, os.loadavg()[0]!],
  };
}

if (only.has('ladder')) {
  // --ladder-clip=short checks the pipeline in seconds; the row of the target is 720p.
  const clip = (args.get('ladder-clip') ?? '720p') as LadderClip;
  if (!Object.hasOwn(LADDER_CLIPS, clip))
    throw new Error(`--ladder-clip: unknown clip ${clip} (${Object.keys(LADDER_CLIPS).join(', ')})`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-bench-'));
  try {
    const row = await runLadder({
      root,
      dir,
      clip,
      pairs: num('ladder-runs', 3),
      jobs: num('jobs', 2),
      log,
    });
    // Each clip keeps its own row.
    results.ladder = { ...previous.ladder, [clip]: row };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each part keeps the Node.js it was measured on (results from before this was recorded: the run's).
// Parts never measured are left out.
const measured = PARTS.filter((p) => only.has(p) || !previous.nodeByPart || p in previous.nodeByPart);
const measuredOn = Object.fromEntries(
  measured.map((p) => [
    p,
    only.has(p) ? process.version : (previous.nodeByPart?.[p] ?? previous.machine?.node ?? '?'),
  ]),
);
const merged: Results = {
  ...previous,
  ...results,
  date: new Date().toISOString(),
  machine: machine(),
  nodeByPart: measuredOn,
};
writeFileSync(resultsFile, `${JSON.stringify(merged, null, 2)}\n`);
const report = renderReport(merged);
writeFileSync(path.join(root, 'bench', 'REPORT.md'), report);
console.log(report);
