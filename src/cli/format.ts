// Text for people: job states, one-job status blocks, the jobs table.
import { type Job, JobState } from '../gen/avspl1t/v1/coordinator_pb.js';
import { describe, httpUrl } from '../storage/index.js';

const STATE_NAMES: Record<JobState, string> = {
  [JobState.UNSPECIFIED]: 'unknown',
  [JobState.QUEUED]: 'queued',
  [JobState.RUNNING]: 'running',
  [JobState.SUCCEEDED]: 'succeeded',
  [JobState.FAILED]: 'failed',
  [JobState.CANCELLED]: 'cancelled',
};

/** The lower-case name of a job state. */
export function stateName(state: JobState): string {
  return STATE_NAMES[state] ?? 'unknown';
}

// C0 and C1 controls, DEL, line/paragraph separators and bidi overrides: they move
// the cursor, retitle or clear a terminal, start lines or reorder what is shown.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` for a terminal: control characters shown as escapes (\x1b, \n, \u202e). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return (
      NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`)
    );
  });
}

/** One printable line, whatever the text held (failure reasons may carry a program's stderr). */
export function oneLine(text: string): string {
  return printable(text.replace(/\s*\n\s*/g, ' ').trim());
}

function time(ms: bigint): string {
  return ms > 0n
    ? new Date(Number(ms))
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '-';
}

function segments(job: Job): string {
  return job.segmentsTotal > 0 ? `${job.segmentsDone}/${job.segmentsTotal}` : '-';
}

/** A multi-line status block for `avspl1t status`. */
export function formatStatus(job: Job): string {
  const d = job.details;
  const lines: [string, string][] = [
    ['job', job.id],
    ['state', stateName(job.state)],
    ['progress', `${job.percentComplete.toFixed(1)}% (${segments(job)} segments)`],
    ['input', describe(d?.input)],
    ['output', describe(d?.output)],
    [
      'settings',
      d?.settings
        ? `${d.settings.encoder} crf ${d.settings.crf} preset ${d.settings.preset}, ${d.secondsPerSegment} s segments`
        : '-',
    ],
    ['created', time(job.createdAtMs)],
  ];
  if (job.finishedAtMs > 0n) lines.push(['finished', time(job.finishedAtMs)]);
  if (job.state === JobState.SUCCEEDED && job.manifest) {
    lines.push(['playlist', describe(job.manifest)]);
    const url = httpUrl(job.manifest);
    if (url) lines.push(['url', url]);
  }
  if (job.failureReason) lines.push(['failure', oneLine(job.failureReason)]);
  for (const w of job.warnings) lines.push(['warning', oneLine(w)]);
  for (const t of job.tasks) {
    const name = t.kind === 'encode' ? `encode ${t.index}` : t.kind;
    const worker = t.workerId ? ` (worker ${t.workerId})` : '';
    if (t.state === 'running') {
      const attempt = t.attempts > 1 ? `, attempt ${t.attempts}` : '';
      lines.push(['running', `${name} on worker ${t.workerId}${attempt}`]);
      continue;
    }
    const last = t.lastError ? `, last error: ${oneLine(t.lastError)}` : '';
    lines.push([
      t.attempts > 1 ? 'retried' : t.state,
      `${name}: ${t.state} after ${t.attempts} attempt${t.attempts === 1 ? '' : 's'}${last}${worker}`,
    ]);
  }
  return lines.map(([k, v]) => `${k.padEnd(9)} ${printable(v)}`).join('\n');
}

/** The table for `avspl1t jobs`. */
export function formatJobs(jobs: readonly Job[]): string {
  if (jobs.length === 0) return 'no jobs';
  const rows = [
    ['ID', 'STATE', 'PERCENT', 'SEGMENTS', 'CREATED', 'INPUT'],
    ...jobs.map((j) =>
      [
        j.id,
        stateName(j.state),
        `${j.percentComplete.toFixed(1)}%`,
        segments(j),
        time(j.createdAtMs),
        describe(j.details?.input),
      ].map(printable),
    ),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}
