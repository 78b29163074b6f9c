// bench/REPORT.md from bench/results.json: one table per part, each with the
// target it is measured against.
import type { DispatchResults } from './dispatch.js';
import type { machine } from './lib.js';
import type { runOverhead } from './overhead.js';
import type { JobProfile, ScaleRow } from './scale-out.js';

type OverheadResults = Awaited<ReturnType<typeof runOverhead>>;

export interface Results {
  date: string;
  machine: ReturnType<typeof machine>;
  overhead?: OverheadResults['overhead'];
  splitQuality?: OverheadResults['splitQuality'];
  dispatch?: DispatchResults;
  scaleOut?: { profile: JobProfile; msPerSecond: number; rows: ScaleRow[] };
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
  if (q)
    lines.push(
      `| split quality: PSNR of split+encode − direct encode (same key frames) | ${f(q.psnrDeltaDb, 3)} dB (${f(q.avspl1t.psnr, 3)} vs ${f(q.direct.psnr, 3)}) | < 0.05 dB |`,
      `| split quality: SSIM delta | ${f(q.ssimDelta, 5)} | |`,
      `| split quality: video size delta | ${f(q.sizeDeltaPercent, 2)} % (${q.avspl1t.bytes} vs ${q.direct.bytes} bytes) | < 1 % |`,
    );
  return lines.join('\n');
}

function dispatchTables(d: DispatchResults): string {
  const target = (db: string) => (db === 'postgres' ? '≥ 2,000/s' : '≥ 5,000/s');
  return [
    '### Saturated: instant workers, claim + finish per second',
    '',
    'Each worker loops GetTask → FinishTask with fake results (two jobs of many pieces). In a closed loop',
    'at saturation a call waits for the calls queued before it (Little: cycle = workers / throughput), so',
    'these latencies are queueing, not service time; the paced table below has the latency target.',
    '',
    '| db | workers | tasks/s (median; runs) | target | GetTask p50 / p99 ms | FinishTask p50 / p99 ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...d.saturated.map(
      (r) =>
        `| ${r.db} | ${r.workers} | **${f(r.perSecond, 0)}** (${r.runs.map((x) => f(x, 0)).join(', ')}) | ${target(r.db)} | ${f(r.getTaskP50, 1)} / ${f(r.getTaskP99, 1)} | ${f(r.finishP50, 1)} / ${f(r.finishP99, 1)} |`,
    ),
    '',
    '### Paced: every worker holds each encode for a while',
    '',
    '| db | workers | task ms | tasks/s | GetTask p50 / p99 ms | FinishTask p50 / p99 ms | target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...d.paced.map(
      (r) =>
        `| ${r.db} | ${r.workers} | ${r.taskMs} | ${f(r.perSecond, 0)} | ${f(r.getTaskP50, 1)} / **${f(r.getTaskP99, 1)}** | ${f(r.finishP50, 1)} / **${f(r.finishP99, 1)}** | p99 < 20 ms |`,
    ),
    '',
    '### Idle to busy: workers in a long poll, then a job is submitted',
    '',
    '| db | idle workers | submit → worker holds the split, median (max) ms | target |',
    '| --- | --- | --- | --- |',
    ...d.idleToBusy.map((r) => `| ${r.db} | ${r.workers} | **${f(r.p50, 1)}** (${f(r.max, 1)}) | < 50 ms |`),
    ...(d.notes.length ? ['', ...d.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

function scaleOutTable(s: NonNullable<Results['scaleOut']>): string {
  const p = s.profile;
  const serial = p.splitSeconds + p.manifestSeconds;
  const parallel = p.segments * p.encodeSeconds + p.audioSeconds;
  return [
    `A 10-minute 1080p job: split ${f(p.splitSeconds, 1)} s, ${p.segments} encodes of ${f(p.encodeSeconds, 2)} s,`,
    `audio ${f(p.audioSeconds, 1)} s, manifest ${f(p.manifestSeconds, 1)} s (${p.how}).`,
    `Replayed by single-slot simulated workers against the real coordinator (SQLite), ${s.msPerSecond} ms of wall`,
    `time per task second. Ideal = serial (split + manifest, ${f(serial, 1)} s) + parallel work`,
    `(${f(parallel, 0)} s) / workers. Amdahl: the serial part caps the speedup at ${f((serial + parallel) / serial, 1)}×.`,
    '',
    '| workers | end to end (s) | ideal (s) | actual / ideal efficiency | speedup vs 1 worker ideal |',
    '| --- | --- | --- | --- | --- |',
    ...s.rows.map(
      (r) =>
        `| ${r.workers} | ${f(r.seconds, 1)} | ${f(r.idealSeconds, 1)} | **${f(r.efficiency, 3)}**${r.workers === 64 ? ' (target ≥ 0.9)' : ''} | ${f(r.speedup, 1)}× |`,
    ),
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
    'Rerun one part with `npm run bench -- --only=overhead|quality|dispatch|scaleout` (comma-separated).',
    '',
    '## Overhead and split quality',
    '',
    overheadTable(r),
  ];
  if (r.dispatch) parts.push('', '## Dispatch', '', dispatchTables(r.dispatch));
  if (r.scaleOut) parts.push('', '## Scale-out', '', scaleOutTable(r.scaleOut));
  return `${parts.join('\n')}\n`;
}
