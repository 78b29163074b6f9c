// bench/REPORT.md from bench/results.json: one table per part, each with the
// target it is measured against.
import type { DispatchResults, Spread } from './dispatch.js';
import type { LadderClip, LadderResult } from './ladder.js';
import type { machine } from './lib.js';
import type { runOverhead, runShortOverhead } from './overhead.js';
import type { JobProfile, ScaleRow } from './scale-out.js';
import type { LadderProfile } from './scale-out-ladder.js';

type OverheadResults = Awaited<ReturnType<typeof runOverhead>>;

export interface Results {
  date: string;
  machine: ReturnType<typeof machine>;
  /** The Node.js each part was last measured on (overhead, quality, dispatch, scaleout). */
  nodeByPart?: Record<string, string>;
  overhead?: OverheadResults['overhead'];
  splitQuality?: OverheadResults['splitQuality'];
  shortOverhead?: Awaited<ReturnType<typeof runShortOverhead>>;
  dispatch?: DispatchResults;
  /** The scale-out simulation with ladder-shaped jobs (bench/scale-out-ladder.ts). */
  scaleOutLadder?: {
    profile: LadderProfile;
    msPerSecond: number;
    dispatchPerSecond: number;
    rows: ScaleRow[];
    /** 1-minute load average before and after the simulation. */
    load: [number, number];
  };
  /** The ladder benchmark, one row per clip (bench/ladder.ts). */
  ladder?: Partial<Record<LadderClip, LadderResult>>;
  scaleOut?: {
    profile: JobProfile;
    msPerSecond: number;
    dispatchPerSecond: number;
    rows: ScaleRow[];
    /** The same job with the split cutting stream copies (S3 or MPEG-TS inputs). */
    copies?: { profile: JobProfile; rows: ScaleRow[] };
  };
}

const f = (x: number, n = 2) => x.toFixed(n);

function overheadTable(r: Results): string {
  const o = r.overhead;
  const q = r.splitQuality;
  const lines: string[] = [];
  if (o)
    lines.push(
      `Clip: ${o.clip}. Settings: ${o.settings}. ${o.ratios.length} alternating runs, medians.`,
      '',
      '| measure | result | target |',
      '| --- | --- | --- |',
      `| \`avspl1t encode\` / one ffmpeg command (wall time, median ratio) | **${f(o.ratioMedian)}×** (${f(o.avspl1tSeconds, 1)} s vs ${f(o.ffmpegSeconds, 1)} s; runs ${o.ratios.map((x) => f(x)).join(', ')}) | ≤ 1.05× |`,
      `| encode speed | avspl1t ${f(o.avspl1tFps, 1)} fps, ffmpeg ${f(o.ffmpegFps, 1)} fps | |`,
      `| CPU utilisation (all cores) | avspl1t ${f(o.avspl1tCpuUtilisation * 100, 0)} %, ffmpeg ${f(o.ffmpegCpuUtilisation * 100, 0)} % | |`,
      `| peak RSS of the avspl1t process (ffmpeg excluded) | ${f(o.avspl1tPeakRssMiB, 0)} MiB | |`,
    );
  else lines.push('| measure | result | target |', '| --- | --- | --- |');
  const analysis = [
    '',
    'What the remaining overhead is (task timings from `--log-level debug`, CPU times from /proc, on this',
    'clip): both keep the cores ~95 % busy, so the gap is CPU work. Each encoder run costs ~1.3 s of CPU',
    'beyond its frames (SVT start-up, pipeline fill and flush: 60 frames take 5.3 s, 480 frames 33.4 s at',
    'one thread), so task sizes now come from a plan that counts it (this clip on 2 slots: 4 runs of 8, 4, 2',
    'and 1 segments; before: 8 runs): A/B against the old sizes 5-10 % faster. On a busy host three batches of 4',
    'alternating runs gave 1.03×, 1.11× and 1.07× (12 runs: median 1.06×, range 0.92-1.40); on a quieter one',
    '(2026-11-30, ffmpeg 40.1-48.7 s) three batches: 1.03× (1.04, 1.04, 1.01, 0.96), 1.04× (1.05, 1.11,',
    "0.91, 1.03) and, on the build with this session's dispatch changes, 1.054× (the one above); their 12",
    'runs: median 1.04×. Timeline of one run (debug log): coordinator listening',
    'at 0.59 s (node start-up), split 0.25 s, first encode at 0.91 s; audio 1.75 s on one slot; both slots end',
    'within 0.05 s of each other. What remains: the node process (coordinator, workers, progress), the',
    'separate audio task (it decodes the source again; ffmpeg encodes audio inline), and the ~0.9 s before',
    'the first encode. The host is noisy (the same ffmpeg command took 42-55 s within an',
    'hour), so single runs swing ±10 %: compare medians of alternating runs. Also: pieces are ranges of the',
    'source (no copy; split 3.3 s → 0.5 s), one encoder run per multi-segment task (a key frame every',
    "segment), costliest tasks first (the clip's last segment costs 3× the others), one encoder thread per",
    'slot except for the last tasks, no copies of segment bytes in node.',
    '',
    '### Numbers behind constants',
    '',
    'Code comments say why a constant is what it is; the measurements live here (they go stale).',
    '',
    '- `RUN_COST` (coordinator/schedule-policy.ts, 0.3 segments): ffmpeg 5.1 / SVT-AV1 1.4.1, preset 8, one',
    '  thread, the 720p bench clip: ~1.3 s of CPU per encoder run against ~4.1 s per 2 s segment. On the',
    '  short clip (640x360, preset 10, 2026-12-01, shared host): a 2-frame encode 0.40-0.46 s of CPU, 60 frames',
    '  ~1.0 s more, so ~0.4 segments there.',
    '- One encoder thread per slot (worker/worker.ts): on the 30 s 720p clip (2 slots, 2 cores, costliest',
    '  tasks first) 1.04-1.11× one ffmpeg with one thread each, 1.09-1.22× with both at full width',
    '  (oversubscribed, more CPU per frame).',
    '- The S3 backend loads on first use (storage/index.ts): the AWS SDK costs ~0.3 s of start-up.',
    "- prom-client loads only where metrics are served (coordinator/server.ts `metrics`, the worker's",
    '  `--metrics-listen`): ~0.07 s of CPU and ~100 modules at start-up of every command (2026-12-02).',
  ];
  if (q)
    lines.push(
      `| split quality: PSNR of split+encode − direct encode (same key frames) | ${f(q.psnrDeltaDb, 3)} dB (${f(q.avspl1t.psnr, 3)} vs ${f(q.direct.psnr, 3)}) | < 0.05 dB |`,
      `| split quality: SSIM delta | ${f(q.ssimDelta, 5)} | |`,
      `| split quality: video size delta | ${f(q.sizeDeltaPercent, 2)} % (${q.avspl1t.bytes} vs ${q.direct.bytes} bytes) | < 1 % |`,
    );
  if (o) lines.push(...analysis);
  return lines.join('\n');
}

/** What the short row's fixed costs are, measured by CPU time and the debug log (robust to a busy host). */
const shortAnalysis = [
  'Where the fixed costs go (2026-12-02). The `--log-level debug` timeline of one run on a quiet host: the',
  'coordinator listened 1.06-1.16 s after the command started, the split (one ffprobe) took 0.3 s, the',
  'encodes 4.45 s, the manifest 0.02 s; the one ffmpeg command took 4.49 s in all. Before the coordinator',
  'listens, node started and loaded ~700 modules one by one (~0.65 s of the 1.1 s: `avspl1t --version` 0.62-0.68 s',
  'user + 0.21-0.25 s system; a bare `node -e 0` 0.13 s). The command now runs a bundle of itself',
  '(dist/cli, rolldown.config.mjs): `--version` 0.25-0.32 s user + 0.12-0.14 s system, and this row went',
  'from 1.41× (6.22 vs 4.49 s; CPU 10.4 vs 7.7 s) to the one above. What remains is process start-up:',
  "Debian's ffmpeg and ffprobe load ~0.25 s of CPU of shared libraries per process (an ffprobe of the",
  "header alone costs 0.25 s), and `avspl1t encode` starts four (the split's ffprobe, alone before any",
  'encode; the audio; two encoder runs) where the one command starts one; plus the node process itself',
  '(~0.4 s of start-up, the coordinator, workers and progress bar). Until 2026-12-02 the row ran the',
  'default five-rung ladder (no `--ladder single`), against one rendition in the ffmpeg command: the 2.12×.',
  'Later on 2026-12-02, 1.29× (CPU 9.4 vs 7.2 s) became the row above: two tasks on two slots no longer',
  'both run at full width (as tails they oversubscribed the cores for the whole run, ~10 % more encoder',
  "CPU), the bundle takes node:http through require (node's ESM wrapper read http.WebSocket and loaded",
  'undici at every start), and the command exits once its output is printed instead of waiting for node',
  'to free its heap. What remains: ~1.2 s in series before the first encode (node and the coordinator',
  "~0.6 s, the split's ffprobe 0.3-0.5 s, one core idle), the audio's own ffmpeg (~0.25 s of start-up), and",
  'node itself at ~20 ms of CPU per second while encoding (watchJob stream, heartbeats).',
];

function shortTable(o: NonNullable<Results['shortOverhead']>): string {
  return [
    `Clip: ${o.clip}. Settings: ${o.settings}. ${o.ratios.length} alternating runs, medians.`,
    '',
    '| measure | result | target |',
    '| --- | --- | --- |',
    `| \`avspl1t encode\` / one ffmpeg HLS command (wall time, median ratio) | **${f(o.ratioMedian)}×** (${f(o.avspl1tSeconds, 2)} s vs ${f(o.ffmpegSeconds, 2)} s; runs ${o.ratios.map((x) => f(x)).join(', ')}) | ≤ 1.10× |`,
    `| CPU time (user + system, all processes) | avspl1t ${f(o.avspl1tCpuSeconds, 1)} s, ffmpeg ${f(o.ffmpegCpuSeconds, 1)} s | |`,
    '',
    ...shortAnalysis,
  ].join('\n');
}

/** Where the ladder row's extra CPU goes (measured by hand; goes stale). */
const LADDER_GAP = [
  "Where the extra CPU goes (2026-12-02, the 720p row's clip, CPU = user + system, shared host at load",
  '6-22, so CPU rather than wall time; alternating runs). Each (rung, task) encode decodes its range of',
  'the source again: one full decode of the 720p clip costs 3.2-3.5 s of CPU (default threads or one), so',
  'six rungs pay ~17 s more than the one command, which decodes once and splits. Each encoder run pays',
  'its start-up, seek and pipeline fill and flush again, ~1.1 s of CPU even on a 240p rung (AV1 240p alone:',
  '4 runs 19.6-19.8 s, 2 runs 17.2-17.7 s; x264 720p: 21.3-22.0 s vs 18.9-20.1 s). The plan now times a',
  "ladder's runs with every rung's tasks on the slots, so the default 720p ladder on 2 slots encodes each",
  'rung in 2 runs (8 + 7 segments) instead of 4 (8, 4, 2, 1): 12 encoder runs instead of 24, 212.6 s of',
  'CPU against 235.8 s (medians of 4 and 5 runs; -20 to -34 s within each alternating round), the one',
  'command 169.9 s. Since then one encode task covers every rung of its pieces (EncodeTask.rungs): one',
  "ffmpeg decodes the range once and splits it to each rung's scaler and encoder, each encoder with the",
  "slot's threads divided among the rungs. The 720p ladder on 2 slots is now 4 ffmpeg runs (8, 4, 2, 1",
  'segments, all rungs each) instead of 12, and the row went from 1.115× (CPU 184.9 vs 172.9 s) to the one',
  "above. What remains is each run's start-up and its encoders' fill and flush (4 runs of 6 encoders",
  'against 1 of 6), the split and the audio before and beside the encodes, and the last run (1 segment)',
  'alone at the end.',
  '',
  'Account of one run (2026-12-02, every ffmpeg/ffprobe through a wrapper logging argv, start, user + sys',
  'CPU; host load 6-25): the split ffprobe 0.26-0.32 s, the audio ffmpeg 0.48-0.56 s, node (coordinator,',
  'workers, progress) 5.5-7.2 s at ~20 ms per second of wall, no other process (no post-encode probe); the',
  'rest is the 4 encoder runs, 179-197 s, with the arguments of the one command at one thread per rung',
  "encoder (the one command: the encoders' defaults). A least-squares fit over 16 runs: 3.8 s a run + 7.3 s",
  'a segment + 4.4 s per mean segment of source bytes. A plan weighing ladder pieces 35 % by bytes and 65 %',
  'by frames made 2 runs (8 + 7) instead of 4, and was tried: five alternating pairs of `avspl1t encode` on',
  'this clip (2026-12-02 13:0x-13:4x, load 5-6 from the runs themselves) gave the 4 runs a median of 101.7 s',
  'and 193.6 s CPU, the 2 runs 103.2 s and 201.8 s (the 2 runs lost 3 of 5 pairs): a run left alone',
  "at the end idles its small rungs' threads while the largest AV1 rung runs on one. The plan stays by bytes.",
  "Tail tasks of a ladder (2026-12-02): a job's last runs left the rungs' encoders at one thread each",
  '(the slot budget floored per rung), so the lone last run used about one core (its 720p AV1 thread 7.5 s',
  "of a 26 s run); they now keep the encoders' defaults, as the one command does (media/rung-threads.ts).",
  'Four alternating pairs of `avspl1t encode` on this clip, quiet host (15:41-15:54, load 6-9 from the runs',
  'themselves): 93.7 s and 183.5 s CPU (median) against 101.0 s and 193.8 s before; pairs 0.917, 1.029,',
  '0.880, 0.949. The same build with `--jobs 1` (one slot: two runs one after the other, the first at one',
  "thread per rung, the second a tail at the encoders' defaults) took 99.6 s (178.2 s",
  'CPU); with `--jobs 1 --threads 12` (the first run at two threads per rung) 102.1 s (193.2 s CPU).',
  'A row measured right after (16:03-16:14, the one command still at real-time priority, below) gave',
  'avspl1t 114.3 s and 221.5 s CPU against 87.8 s and 168.2 s for the one command, where 20 minutes',
  'earlier the same build took 93.2-95.1 s and 182.6-186.1 s CPU on a 1280x720 30 s clip of the same kind:',
  "within the hour the two moved apart by a fifth, and that row's pairs spanned 1.047-1.370.",
  '',
  'The baseline ran at real-time priority (2026-12-02, 18:4x-19:1x): the bench runs as root, and as root',
  'SVT-AV1 1.4 gives its threads SCHED_FIFO 99 (ps: 338 threads FF 99 in one ladder command), while',
  "avspl1t's workers start ffmpeg without CAP_SYS_NICE (media/ffmpeg.ts childCommand). On this shared",
  'host the one command took the cores from every other process, avspl1t included. On a 10 s clip of the',
  "row's kind (CPU user + sys, load 4-18, runs alternating): the one command 49.9-55.8 s of CPU and 28-34 s",
  'of wall at real-time priority (10 runs), 58.5-64.9 s and 44-87 s without (5 runs); `avspl1t encode`',
  "57.2-75.0 s and 44-84 s (9 runs; the last 3 pairs against the one command without real-time priority: CPU 0.905, 1.013, 1.155, wall 0.646, 0.717, 0.965). avspl1t's two encoder runs replayed by hand with the same arguments:",
  '52.1-53.7 s at real-time priority, 61.7-63.3 s without; one after the other at real-time priority',
  '50.0-52.6 s, and as one run over all frames 49.7-50.0 s (encoders at their default threads) and 51.3-54.2 s (one',
  'thread per rung), so the arguments, the second run and one thread per rung cost no more than the',
  'noise. What avspl1t adds beside the encoders: node 2.1-3.0 s (1.2 s of it in the first 5 s; then 15-30',
  "ms per second of wall), the split's ffprobe 0.24-0.33 s, the audio's ffmpeg 0.33-0.42 s, the frames decoded",
  "from the key frame before a run's first piece (30 frames, ~0.3 s here). The baseline commands now run",
  'through childCommand too (bench/lib.ts runMeasuredFfmpeg), in this row and in the 720p and short rows.',
  '',
  'In a quiet moment (19:31-19:34, load 0.2-8, alternating) the same 10 s clip gave: the one command without',
  'real-time priority 46.3-47.6 s of CPU and 24.5-25.2 s of wall (3 runs), with it 45.0 s and 24.0 s (1);',
  '`avspl1t encode` 49.3-50.0 s and 26.5-26.9 s (3 runs), so +6.6 % CPU and +7 % wall: node 1.5 s, its two',
  "encoder runs 47.4 s against the one command's ~46.7 s less its audio (a second run's start-up and the 30",
  "frames decoded before its cut), the split's ffprobe 0.15 s; the wall also pays the shorter run's slot",
  "idling for the last ~4 s. The bench's own 720p row, 2 pairs with this change (19:18-19:30, load 6-10):",
  '0.947 and 1.114 (median 1.031), CPU medians 174.8 s against 152.2 s.',
  '',
  'A plan that counts on the tails was tried and not kept (2026-12-03). The plan models every slot at one',
  "slot's speed, but a tail task's encoders use every core once the other slots run dry. Modelled so, the",
  'plan cut this clip into 8, 6 and 1 segments (3 runs, its costliest piece the tail) instead of 8, 4, 2, 1,',
  'and equal pieces into 7, 7, 1 instead of 8 + 7. Alternating `avspl1t encode` runs (04:44-04:55, load 6-9',
  'with a helper running tests): the 4 runs 123.3, 79.7, 81.2 s; 8, 6, 1 102.0, 79.3, 77.1 s; 7, 7, 1',
  '96.2, 79.6, 80.1 s (CPU 151-185 s in all): at most 2-5 % in the last two rounds, within the noise. The',
  "same model made the short clip (overhead's short row, one rendition) one run at full width, which lost:",
  "4.30-4.38 s against 3.84-4.14 s for today's two runs, 6 alternating pairs, the same CPU (7.0-7.2 s):",
  'SVT-AV1 at 360p preset 10 gets ~1.7 cores of 2 from its own threads, not 2. A model with that',
  'efficiency keeps both plans within ~1 % of each other, not worth a job field telling the coordinator',
  'which slots share a machine.',
  '',
  'Two other cuts of the work, tried by hand as two ffmpeg commands at once against the one command',
  "(2026-12-03 07:00-07:29, the row's clip and rungs, every encoder at its default threads, pairs",
  "alternating; the one command's own pace moved by a fifth within the half hour, 79.7-109.9 s). By rung:",
  'each command every frame of three rungs (av1-720p, av1-240p, h264-360p and the audio; av1-480p,',
  "av1-360p, h264-720p): 1.015, 0.982 and 1.170 of the one command's wall (CPU 155.7 vs 153.8, 185.8 vs",
  '189.8, 213.3 vs 188.5 s). By time: each command every rung of one half (0-16 s with the audio, 16-30 s):',
  "1.270 (a helper's tests beside it), 1.020, 0.978 (CPU 195.2 vs 169.9, 177.0 vs 183.8, 178.0 vs 181.2",
  "s). Neither is clearly cheaper than one process at this size, nor than the other: the host's noise",
  'is larger than what a different task layout could win here, so the layout stays.',
];

function ladderTable(rows: NonNullable<Results['ladder']>): string {
  const lines = [
    '`avspl1t encode` of a ladder (2 local workers) against one ffmpeg command writing the same ladder',
    '(`-filter_complex split`, one encoder per rung with the same arguments as the workers: CRF, preset,',
    '`-maxrate`/`-bufsize` cap, a key frame every segment; the same Lanczos scale; AAC once;',
    '`-var_stream_map`, HLS fMP4; bench/ladder-command.ts), started as the workers start ffmpeg (never at',
    'real-time priority). Pairs alternate which command runs first.',
    'Before timing, ffprobe checks that both outputs hold the same rungs: codec, profile, size, pixel',
    'format, frame count = the source, the same key frame times. The `short` row is a quick check of the',
    'pipeline (`--ladder-clip=short`), not the target: on a 4 s clip the fixed start-up costs dominate.',
    '',
    '| clip | rungs | avspl1t / ffmpeg (wall time, median; each pair) | seconds (median) | CPU s (median) | load average (1 min) before / after | target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, r] of Object.entries(rows)) {
    if (!r) continue;
    const pairs = r.ratios.map((x, i) => `${f(x, 3)}${r.firsts[i] === 'avspl1t' ? '*' : ''}`).join(', ');
    lines.push(
      `| ${name}: ${r.clip} | ${r.ladder.length} (avspl1t: ${r.avspl1tLadder}) | **${f(r.ratioMedian, 3)}×** (${pairs}) | avspl1t ${f(r.avspl1tSeconds, 1)}, ffmpeg ${f(r.ffmpegSeconds, 1)} | avspl1t ${f(r.avspl1tCpuSeconds, 1)}, ffmpeg ${f(r.ffmpegCpuSeconds, 1)} | ${f(r.loadBefore)} / ${f(r.loadAfter)} | ${name === 'short' ? '–' : '≤ 1.05×'} |`,
    );
  }
  lines.push('', '\\* avspl1t ran first in that pair.', '', ...LADDER_GAP, '');
  for (const [name, r] of Object.entries(rows)) {
    if (!r) continue;
    lines.push(`Rungs of the ${name} row (${r.date}), settings and what ffprobe read in both outputs:`, '');
    lines.push(...r.ladder.map((l, i) => `- ${l}; ${r.rungs[i] ?? ''}`), '');
  }
  return lines.join('\n').trimEnd();
}

function dispatchTables(d: DispatchResults): string {
  // Issue 16's floors at 50 workers (the other rows have none).
  const target = (db: string, workers: number) =>
    workers !== 50 ? '–' : db === 'postgres' ? '≥ 500/s' : '≥ 1,000/s';
  // Older results have no CPU column.
  const cpu = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '–' : f(ms, 2));
  const flags = d.coordinatorNodeArgs
    ? `\`node ${d.coordinatorNodeArgs}\` (docs/deploy.md's advice)`
    : "Node's defaults (these results predate the flag)";
  return [
    `The coordinator process runs with ${flags}; \`BENCH_NODE_ARGS\` replaces its flags.`,
    '',
    '### Saturated: instant workers, claim + finish per second',
    '',
    'Each worker loops like the real one: FinishTask with a fake result asks for the next task (`want_next`),',
    'GetTask long-polls only when a finish brought none (two jobs of many pieces). In a closed loop',
    'at saturation a call waits for the calls queued before it (Little: cycle = workers / throughput), so',
    'these latencies are queueing, not service time; the paced table below has the latency target.',
    '',
    'CPU columns are user + system time per claim + finish (all threads, from /proc): of the coordinator',
    'process, of the simulated workers (the benchmark process) and of the PostgreSQL server. Unlike',
    'wall-clock rates they hardly depend on what else the machine runs. All three share the 2 cores, so',
    '2,000 ms/s ÷ their sum is the most this machine can dispatch; 1,000 ÷ the coordinator column is what',
    'one core would serve if the workers and the database ran elsewhere (the coordinator is one thread of',
    'JavaScript; a cluster can run several coordinators on one database).',
    '',
    '| db | workers | tasks/s (median; runs) | target | CPU ms/task: coordinator / workers / PostgreSQL | 2 cores ÷ all CPU | 1 core ÷ coordinator CPU | GetTask p50 / p99 ms | FinishTask p50 / p99 ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...d.saturated.map((r) => {
      const all = r.cpuMsPerTask + (r.workersCpuMsPerTask ?? Number.NaN) + (r.serverCpuMsPerTask ?? 0);
      const ends = `${cpu(r.cpuMsPerTask)} / ${cpu(r.workersCpuMsPerTask)} / ${r.db === 'postgres' ? cpu(r.serverCpuMsPerTask) : '–'}`;
      return `| ${r.db} | ${r.workers} | **${f(r.perSecond, 0)}** (${r.runs.map((x) => f(x, 0)).join(', ')}) | ${target(r.db, r.workers)} | ${ends} | ${Number.isNaN(all) ? '–' : f(2000 / all, 0)} | ${f(1000 / r.cpuMsPerTask, 0)} | ${f(r.getTaskP50, 1)} / ${f(r.getTaskP99, 1)} | ${f(r.finishP50, 1)} / ${f(r.finishP99, 1)} |`;
    }),
    '',
    '### Paced: workers hold each encode for a while (a load the coordinator can serve)',
    '',
    'Every worker holds each encode for 0.5-1.5 × the mean (seeded, the same every run; real encodes differ',
    'by content), heartbeating every 5 s, 4 encodes per worker. When the split finishes, every idle worker',
    'is woken and claims at once: that start-up wave is its own column. After it, FinishTask carries the',
    "worker's next claim (`want_next`); GetTask is called only when a finish brought nothing.",
    '',
    '| db | workers | mean task ms | tasks/s | coordinator CPU ms/task | start-up wave: split finished → worker holds its first encode, p50 / p99 ms | then FinishTask + next p50 / p99 ms | GetTask p50 / p99 ms (calls) | Heartbeat p50 / p99 ms | target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...d.paced.map((r) => {
      const s = (x: Spread, bold = false) =>
        x.calls === 0 ? '–' : `${f(x.p50, 1)} / ${bold ? `**${f(x.p99, 1)}**` : f(x.p99, 1)}`;
      return `| ${r.db} | ${r.workers} | ${r.taskMs} | ${f(r.perSecond, 0)} | ${cpu(r.cpuMsPerTask)} | ${s(r.startup)} | ${s(r.finishTask, true)} | ${s(r.getTask, true)} (${r.getTask.calls}) | ${s(r.heartbeat, true)} | p99 < 20 ms |`;
    }),
    '',
    '### Idle to busy: workers in a long poll, then a job is submitted',
    '',
    '| db | idle workers | submit → worker holds the split, median (max) ms | target |',
    '| --- | --- | --- | --- |',
    ...d.idleToBusy.map((r) => `| ${r.db} | ${r.workers} | **${f(r.p50, 1)}** (${f(r.max, 1)}) | < 50 ms |`),
    '',
    'What bounds dispatch here (2026-12-02, this build): every claim + finish is one FinishTask call through',
    'connect-es (HTTP/2) and one transaction, and the coordinator, the simulated workers (connect-es clients',
    'like the real worker) and PostgreSQL share the 2 cores. The saturated rows use 75-80 % of what the CPU',
    'columns allow ("2 cores ÷ all CPU"): at 50 workers SQLite 1,168/s of 1,496, PostgreSQL 408/s of 521',
    'in one quiet run at 09:51 on 2026-12-02; a run at 12:34 the same day (3 runs, load < 1 before',
    'it) measured SQLite 993/s and PostgreSQL 302/s with every CPU column higher, the simulated workers',
    "too (PostgreSQL 0.67 → 1.01 ms, code unchanged): this host's speed drifts by a third over hours. Two",
    'alternating pairs afterwards (this build against the one before the PostgreSQL writes were corked)',
    'gave 319 vs 366/s and 291 vs 273/s: within that drift, so the corking is kept for its fewer system',
    'calls (test/db/postgres-writes.test.ts) and lower CPU under load, not for a measured gain here.',
    'Coordinator profile on SQLite at 50 workers, before the write batch below (self time, share of busy',
    'time): SQLite statements and commits ~27 %, protobuf ~14 %, connect-es, node HTTP/2 and Headers ~20 %',
    '(connect-es creates an AbortController, a DOMException and a ConnectError on every call, on both',
    'ends: ~0.13 ms per call), GC ~7 %. SQLite',
    'writes asked for in one event-loop turn now share one commit, each in its own savepoint',
    '(src/db/sqlite/write-batch.ts; ~18 writes per commit when saturated): coordinator CPU 2.17 → 1.46 ms per',
    'task in 13 alternating pairs on a busy host, 1.33 → 1.10 ms on a quiet one. On PostgreSQL the server',
    "needs ~1.3 ms per task and the coordinator ~1.8 ms; pg's pipelined statements are one socket write each",
    '(writev ~10-16 % of the coordinator profile), so a finish with the next claim is now five statements',
    "(BEGIN, one locking read of the task and its job, one statement of data-modifying CTEs for the task's,",
    "run's and job's writes, the claim, COMMIT) instead of eight: -8 % coordinator CPU per task in 4",
    'alternating pairs at load 4-23, -11 to -14 % at the store level. The build before the redesign (71d39dd) measured 0.3-0.45 ms',
    'per task with a hand-written gRPC path, spliced payloads and group commit; issue 16 traded that for',
    'one RPC stack and one transaction per finish, which 1,000 tasks/s does not need on a machine where the',
    'coordinator has a core of its own ("1 core ÷ coordinator CPU").',
    'PostgreSQL finishes one at a time per coordinator: measured, then reverted (2026-12-02).',
    '`pg_stat_statements` in a saturated run at 50 workers (4,004 tasks, pool of 10): five statements per',
    "claim + finish in two round trips (the claim's CTE 0.37 ms, the finish's CTE 0.30 ms, a foreign-key",
    "check 0.01 ms, BEGIN and COMMIT), and the finish's locking read of its task and job at a mean of 84 ms,",
    "nearly all of it waiting for the job row's lock: up to 10 backends slept on one row and each was woken",
    'to recheck it (server CPU per task 1.9-2.3 ms with a pool of 10, 1.0 with 3, 0.6-0.8 with 1, in a',
    'micro-benchmark). Queueing the finishes in the coordinator, one at a time, brought the locking read to',
    '0.07 ms; three alternating pairs on a quiet host (15:57-16:00) against the build without it: 388 vs',
    '328, 317 vs 309 and 301 vs 253 tasks/s, server CPU 0.76-1.15 against 1.56-2.05 ms per task; the table',
    'above (16:14, right after the ladder row, load 8.6 at its start) was measured with it too. It was',
    "reverted on review: one queue for all of a coordinator's finishes caps it at one finish per round trip",
    "plus commit (the bench's server runs with fsync off; a real disk and a network hop make that a few",
    'hundred a second), and a finish that hangs (a lock held by another coordinator for up to the 60 s',
    'statement timeout, a dead connection) holds up every other finish while workers retry and leases',
    'expire. A queue per job would keep the gain without that, but a finish names only its task. Paced,',
    'PostgreSQL, two alternating pairs of the trace with and without the queue (16:31-16:35): FinishTask p99',
    '48.3 and 52.7 ms with it, 59.9 and 39.0 ms without; Heartbeat 38.4 and 44.0 against 62.5 and 32.8 ms.',
    '',
    'Paced rows: the start-up wave hands all 500 workers their first encode within ~0.6 s; their first',
    'heartbeats now come 0.25-1 × the interval after the claim (later beats 0.75-1 ×), where they all used',
    'to land in one 1.25 s window (~400/s) that held the slowest 1 % of beats. What remains above 20 ms is',
    'pauses of either process: on a loaded host (load 12-17, 6 runs) the slowest 1 % came in 2-4 bursts',
    'of a 52 s window, 58-61 of ~60 of them inside 100 ms with > 10 ms of event-loop delay, and GC was not',
    'the common factor (0/59 to 63/63 overlapping a GC pause; often 2 scavenges in the window; a larger',
    'young generation, `--max-semi-space-size=32`, changed nothing measurable). The coordinator spends 0.5-0.7 ms of CPU per',
    'heartbeat (the lease UPDATE and commit ~0.2 ms, connect-es aborts ~0.13 ms, GC ~0.14 ms).',
    "The coordinator's stalls by cause (2026-12-02; bench/stalls.ts reads its main thread's /proc schedstat",
    "and V8's gc entries; `node dist/bench/paced-trace.js sqlite|postgres`). Under load 6-24 from other work",
    'on the host, 97.8 % of its stalls > 10 ms were its main thread waiting for a core. On a quiet host',
    '(16:00-16:30, several runs per database): SQLite 29-32 stalls > 10 ms a run, of them 9-11 running our',
    "code (the longest, 200-305 ms, come before the measured window: the split's 2,000 tasks and the",
    'start-up wave), 13-21 waiting for a core, 2-5 in GC; PostgreSQL 56-59, of them 13-14 running, 36-41',
    'waiting for a core, 3-6 in GC. 16-20 scavenges a run, 28-38 ms each on average (each moves 4-12 MB of',
    "in-flight calls' state to the old space). Client-side p99 in these runs: SQLite FinishTask 35.9-40.9",
    'ms, Heartbeat 33.7-35.9 ms; PostgreSQL 30.2-79.4 and 26.8-63.4 ms. Tried and not kept: the simulated',
    'workers at nice 10 (`BENCH_SIM_NICE=10`; p99 SQLite 52.8 / 43.3 ms, PostgreSQL 52.3 / 37.9 ms: the',
    "workers' process stalls more instead) and `--single-threaded-gc` for the coordinator (SQLite 39.4 /",
    '48.0 ms, PostgreSQL 94.4 / 58.9 ms; its scavenges took longer in all).',
    '',
    "What the coordinator's scavenges keep, and the young generation's size (18:45-19:20, load 6-16 on the",
    "2-core host, so every p99 in these runs was 0.1-5 s: in its stalls > 10 ms the coordinator's main",
    'thread waited for a core 7-46 s of each ~65 s run). Node 24 on this host (24 GiB, heap limit 4,288',
    'MiB) already lets a semi-space grow to 64 MiB (`v8.getHeapStatistics().heap_size_limit` is 4,144 MiB',
    'with `--max-semi-space-size=16`, 4,288 with 64 or none); Node sizes it from the memory limit (under 16',
    'MiB at 2 GiB or less, 1 MiB at 512 MiB). An allocation-sampling profile of a paced SQLite run that',
    'kept what the old-space GC collected (bench/promoted-sample.ts, preloaded with',
    '`BENCH_NODE_ARGS=--import=`; 203 MB sampled in 50 s): connect-es 25 %, Node streams, events and abort',
    'signals 20 %, Node HTTP/2 11 %, protobuf-es 10 %, our code 14 % (the decoded request message, the long',
    "poll's wait, the per-stream call count), module loading 6 %; PostgreSQL (325 MB in 40 s) the same plus",
    'node-postgres 15 %: the state of calls in flight, nothing kept by accident. Two heap snapshots 12 s',
    'apart mid-run: 26.6 and 27.9 MB live, the difference being 78 more open HTTP/2 streams and their',
    'calls. Whole runs with `--trace-gc-nvp` (scavenges / MB moved to the old space), alternating: SQLite',
    'default 23, 21, 24 (87, 72, 98 MB); 64 MiB 23, 24 (91, 100); 128 MiB 22 (99); 32 MiB 35, 34 (119,',
    '110); 16 MiB 58, 55 (128, 118); 1 MiB 891 (158). PostgreSQL default 27, 25 (94, 65); 128 MiB 23, 24',
    '(110, 104); 32 MiB 41, 43 (130, 136); 16 MiB 75, 76 (145, 143); 1 MiB 1,086 (215); 7 full',
    'collections a run at 1 MiB on both (SQLite 3 at every other size, PostgreSQL 3-7). Stalls > 10 ms that were mostly GC: 0-5 a run at 64 MiB or more, 3-5',
    'at 32, 3-11 at 16, 10-11 at 1; total scavenge pause (wall, so inflated by the waits) 1.2-3.3 s at 16',
    'MiB or more, 2.6 and 7.0 s at 1. Kept: nothing in the code (the bench host already runs the',
    'coordinator at 64 MiB and 128 changes nothing).',
    '',
    'The same on a quiet host (2026-12-03 05:02-05:12, load 0.5-1.1; paced-trace, 64, 8 and 16 MiB',
    'alternating, 2 rounds per database, table in docs/deploy.md): the longest scavenge 39-71 ms at 64 MiB,',
    '15-20 ms at 16, 11-22 ms at 8. SQLite p99 FinishTask / Heartbeat 12.6-18.2 / 15.7-16.7 ms at 64 MiB,',
    '9.1-10.5 / 9.3-10.1 ms at 8; PostgreSQL 18.4-32.5 / 20.9-30.0 ms at 64, 16.6-31.8 / 12.2-21.7 ms at 8',
    '(its FinishTask tail is waits for a core: 13-26 stalls > 10 ms a run). So docs/deploy.md now advises',
    '8 MiB for the coordinator (`NODE_OPTIONS=--max-semi-space-size=8`), and the bench now starts its',
    'coordinator so (COORDINATOR_NODE_ARGS, bench/sim.ts); the line above the tables says which flags they ran with.',
    '',
    'With that flag, 2026-12-03 07:30-07:58 on a host slower than in the quiet window (every process spent',
    "more CPU per task, the simulated fleet's too; load 0.5-2): one whole dispatch run gave SQLite 914/s and",
    'PostgreSQL 468/s at 50 workers, paced p99 SQLite 9.7 / 8.8 ms, PostgreSQL 26.9 / 20.4 ms (not kept in the',
    'tables: they keep the quiet window). Saturated at 50 workers, one run each, alternating Node defaults /',
    '8 MiB: SQLite 953 / 1,057, 968 / 1,086, 992 / 846; PostgreSQL 611 / 639, 631 / 652, 662 / 528 (in the last',
    "pair every process ran slower under 8 MiB, the fleet's CPU per task 0.89 against 0.68-0.72 ms): the",
    'smaller young generation costs no throughput. Paced PostgreSQL (paced-trace, alternating), p99',
    'FinishTask / Heartbeat: defaults 41.9 / 33.2, 37.9 / 36.0, 32.5 / 25.2 ms; 8 MiB 44.9 / 28.7, 40.2 / 25.1,',
    '39.1 / 26.3 ms: on that host neither is under 20 ms. Tried and not kept: the simulated fleet pinned to',
    'one core and the coordinator with PostgreSQL to the other (taskset, as if the workers had machines of',
    'their own): 57.9 / 41.3 and 29.0 / 24.1 ms against 37.2 / 23.7 and 44.8 / 39.2 ms unpinned in the same',
    "rounds; the coordinator's main thread then waited for its core behind PostgreSQL's backends and its",
    'own GC threads (43-51 stalls > 10 ms waiting for a core a run, against 24-30 unpinned).',
    ...(d.notes.length ? ['', ...d.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

function scaleRows(p: JobProfile, rows: ScaleRow[]): string[] {
  const serial = p.splitSeconds + p.manifestSeconds;
  return [
    '| workers | ms per task s | end to end (s) | ideal (s) | ideal / actual | critical path (s) | speedup vs 1 worker ideal |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${f(r.msPerSecond, 0)} | ${f(r.seconds, 1)} | ${f(r.idealSeconds, 1)} | **${f(r.efficiency, 3)}**${r.workers === 64 ? ' (target ≥ 0.9)' : ''} | ${f(serial + Math.max(p.audioSeconds, Math.ceil(p.segments / r.workers) * p.encodeSeconds), 1)} | ${f(r.speedup, 1)}× |`,
    ),
  ];
}

function scaleOutTable(s: NonNullable<Results['scaleOut']>): string {
  const p = s.profile;
  const serial = p.splitSeconds + p.manifestSeconds;
  const parallel = p.segments * p.encodeSeconds + p.audioSeconds;
  const cap = (q: JobProfile) =>
    (q.splitSeconds + q.manifestSeconds + q.segments * q.encodeSeconds + q.audioSeconds) /
    (q.splitSeconds + q.manifestSeconds);
  // Workers past which the encode rounds are shorter than the audio task.
  const rounds = Math.floor(p.audioSeconds / p.encodeSeconds);
  const audioLine =
    rounds === 0
      ? `workers⌉ × encode) + manifest; the one ${f(p.audioSeconds, 0)} s audio task is shorter than one encode, so`
      : `workers⌉ × encode) + manifest; from about ${Math.ceil(p.segments / rounds)} workers on, the one ${f(p.audioSeconds, 0)} s audio task outlasts`;
  const lines = [
    `A 10-minute 1080p job: split ${f(p.splitSeconds, 1)} s, ${p.segments} encodes of ${f(p.encodeSeconds, 2)} s,`,
    `audio ${f(p.audioSeconds, 1)} s, manifest ${f(p.manifestSeconds, 1)} s (${p.how}).`,
    'Replayed by single-slot simulated workers against the real coordinator (SQLite), time compressed:',
    `one task second lasts max(${s.msPerSecond} ms, workers / (encode s × ${s.dispatchPerSecond}/s)) of wall time, so`,
    `the fleet never needs more than ${s.dispatchPerSecond} dispatches/s (compression multiplies the rate a real`,
    'fleet needs; at real speed 128 workers need ~14/s).',
    `Ideal = serial (split + manifest, ${f(serial, 1)} s) + parallel work`,
    `(${f(parallel, 0)} s) / workers. Amdahl: the serial part caps the speedup at ${f(cap(p), 1)}×.`,
    '',
    'The ideal ignores that tasks are indivisible: the critical path is split + max(audio, ⌈segments /',
    audioLine,
    rounds === 0
      ? 'the last round of encodes bounds the job (⌈segments / workers⌉ rounds of whole tasks).'
      : 'the rounds of encodes and bounds the job.',
    '',
    ...scaleRows(p, s.rows),
  ];
  if (s.copies) {
    const c = s.copies.profile;
    lines.push(
      '',
      `With the split cutting stream copies (S3 or MPEG-TS inputs: ${f(c.splitSeconds, 1)} s instead of ${f(p.splitSeconds, 1)} s), the serial`,
      `part caps the speedup at ${f(cap(c), 1)}×:`,
      '',
      ...scaleRows(c, s.copies.rows),
    );
  }
  return lines.join('\n');
}

function scaleOutLadderTable(s: NonNullable<Results['scaleOutLadder']>): string {
  const p = s.profile;
  const serial = p.splitSeconds + p.manifestSeconds;
  const perSegment = p.rungs.reduce((t, r) => t + r.seconds, 0);
  const parallel = p.segments * perSegment + p.audioSeconds;
  const tasks = s.rows.find((r) => r.encodeTasks !== undefined)?.encodeTasks;
  const whole = (r: ScaleRow) => r.scheduleSeconds ?? Number.NaN;
  return [
    `A 10-minute 1080p job with the default ladder (${p.rungs.length} rungs): split ${f(p.splitSeconds, 1)} s, audio`,
    `${f(p.audioSeconds, 1)} s, manifest ${f(p.manifestSeconds, 1)} s, and every rung encodes every one of the ${p.segments}`,
    'segments. The job is submitted as `avspl1t submit` leaves it (no parallelism: the fleet unknown), so the',
    'coordinator makes one encode task per segment and rung (a task of every rung would last their sum,',
    `${f(perSegment, 1)} s, too coarse for a large fleet), claimed costliest first` +
      (tasks === undefined
        ? '. Caveat: these rows were measured before the simulation accounted per task (time scale and' +
          ' "whole tasks" from one-rung entries); rerun them.'
        : `: ${tasks} encode tasks, as the coordinator handed them out.`),
    "A rung's encode of one segment costs its",
    `pixels × its codec's seconds per megapixel (AV1 ${f(p.secondsPerMegapixel.av1)} s, H.264 ${f(p.secondsPerMegapixel.h264)} s), fitted to one`,
    `measured segment of every rung (${p.how}):`,
    '',
    '| rung | size | measured s | simulated s (pixels × factor) |',
    '| --- | --- | --- | --- |',
    ...p.rungs.map(
      (r) => `| ${r.name} | ${r.width}x${r.height} | ${f(r.measuredSeconds)} | ${f(r.seconds)} |`,
    ),
    '',
    'Replayed like the table above: single-slot simulated workers against the real coordinator (SQLite),',
    `one task second lasting max(${s.msPerSecond} ms, workers / (mean encode task s × ${s.dispatchPerSecond}/s)) of wall time, so the`,
    `fleet asks the coordinator for about ${s.dispatchPerSecond} encode tasks a second; a run ends when the coordinator marks the`,
    `job finished. Ideal = serial (${f(serial, 1)} s) + parallel work (${f(parallel, 0)} s) / workers, the work perfectly`,
    'divisible. "Whole tasks" = split + the encode and audio tasks the coordinator handed out, run costliest',
    'first on the worker free first with no dispatch cost, + manifest: the best a perfect fleet does with',
    'these tasks. So ideal / whole tasks is what the task size allows, and whole tasks / actual is what',
    'dispatch and the simulated fleet lose; "split → every worker busy" is the start-up wave in wall ms',
    '(the split result becoming the tasks, then one claim per worker) and in task seconds. Compressed',
    'time makes every wall ms of the coordinator weigh 1000 / (ms per task s) times more than in a real',
    'run. The simulation ran with a 1-minute load average of',
    `${f(s.load[0])} before and ${f(s.load[1])} after.`,
    '',
    '| workers | ms per task s | end to end (s) | ideal (s) | ideal / actual | whole tasks (s) | ideal / whole tasks | whole tasks / actual | split → every worker busy, wall ms (task s) | speedup vs 1 worker ideal |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...s.rows.map(
      (r) =>
        `| ${r.workers} | ${f(r.msPerSecond, 0)} | ${f(r.seconds, 1)} | ${f(r.idealSeconds, 1)} | **${f(r.efficiency, 3)}**${r.workers === 64 ? ' (target ≥ 0.9)' : ''} | ${f(whole(r), 1)} | ${f(r.idealSeconds / whole(r), 3)} | ${f(whole(r) / r.seconds, 3)} | ${r.startupMs ? `${f(r.startupMs.allBusy, 0)} (${f(r.startupMs.allBusy / r.msPerSecond, 1)})` : '–'} | ${f(r.speedup, 1)}× |`,
    ),
    '',
    'Whole tasks cap the ratio at the "ideal / whole tasks" column. Tasks of every rung of a segment',
    `(${f(perSegment, 1)} s each) run in rounds, ⌈${p.segments} / N⌉ on N workers where the ideal needs ${p.segments} / N: a cap of`,
    '0.940 at 64 workers and 0.789 at 128 for this job, computed from its profile; one rung per task lifts it to',
    '0.998 and 0.996, at the price of decoding each piece once per rung (small beside its encode). So with',
    '`parallelism` unset (the fleet unknown) the coordinator makes one task per rung and segment, and keeps',
    "a segment's rungs together only when the job's tasks are sized for known slots (`avspl1t encode`) or the",
    'job is progressive.',
  ].join('\n');
}

/** The whole report. */
export function renderReport(r: Results): string {
  const m = r.machine;
  const parts = [
    '# avspl1t benchmarks',
    '',
    `Generated by \`npm run bench\` on ${r.date}. Machine: ${m.cpus}, ${m.cores} cores, ${m.memoryGiB} GiB,`,
    `Node ${m.node}, ${m.ffmpeg}; load average at the end ${m.loadavg}.`,
    ...(r.nodeByPart
      ? [
          `Measured on: ${Object.entries(r.nodeByPart)
            .map(([part, node]) => `${part} Node ${node}`)
            .join(', ')} (parts not rerun keep their results).`,
        ]
      : []),
    'Rerun one part with `npm run bench -- --only=overhead|short|quality|dispatch|scaleout|ladder|scaleladder` (comma-separated).',
    '',
    '## Overhead and split quality',
    '',
    overheadTable(r),
  ];
  if (r.shortOverhead) parts.push('', '### Short clip: the fixed costs', '', shortTable(r.shortOverhead));
  if (r.ladder) parts.push('', '## Ladder', '', ladderTable(r.ladder));
  if (r.dispatch) parts.push('', '## Dispatch', '', dispatchTables(r.dispatch));
  if (r.scaleOut) parts.push('', '## Scale-out', '', scaleOutTable(r.scaleOut));
  if (r.scaleOutLadder) parts.push('', '### Ladder-shaped jobs', '', scaleOutLadderTable(r.scaleOutLadder));
  return `${parts.join('\n')}\n`;
}
