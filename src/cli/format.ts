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
  // A ladder: segments encoded per rung.
  if (job.renditions.length > 1 || job.renditions.some((r) => r.name))
    for (const r of job.renditions)
      lines.push(['rendition', `${r.name}: ${r.segmentsDone}/${r.segmentsTotal} segments`]);
  if (job.finishedAtMs > 0n) lines.push(['finished', time(job.finishedAtMs)]);
  if (job.state === JobState.SUCCEEDED && job.manifest) {
    lines.push(['playlist', describe(job.manifest)]);
    const url = httpUrl(job.manifest);
    if (url) lines.push(['url', url]);
  }
  if (job.failureReason) lines.push(['failure', oneLine(job.failureReason)]);
  for (const w of job.warnings) lines.push(['warning', oneLine(w)]);
  for (const t of job.tasks) {
    // A grouped encode names the segments it covers.
    const rung = t.rendition ? ` ${t.rendition}` : '';
    const name =
      t.kind !== 'encode'
        ? t.kind
        : t.segments > 1
          ? `encode${rung} segs ${t.index}-${t.index + t.segments - 1}`
          : `encode${rung} ${t.index}`;
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

// Characters a terminal shows two columns wide (East Asian wide and fullwidth forms,
// emoji) and ones it shows in none (combining marks, zero-width spaces and joiners).
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
const ZERO_WIDTH = /[\p{Mn}\p{Me}\u200b-\u200f\ufeff]/u;

/** Columns `text` takes in a terminal (one line, controls already made printable). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += ZERO_WIDTH.test(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
  return width;
}

/** `text` cut to `width` columns from the left, `…` first: the end of a path names the file. */
function elideStart(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  const chars = [...text];
  let kept = '';
  for (let i = chars.length - 1; i >= 0 && displayWidth(chars[i] + kept) <= width - 1; i--)
    kept = chars[i] + kept;
  return `…${kept}`;
}

/** The shortest prefix of each id, 8 characters at least, that no other listed id starts with. */
function shortIds(ids: readonly string[]): string[] {
  for (let n = 8; n < Math.max(...ids.map((id) => id.length)); n++)
    if (new Set(ids.map((id) => id.slice(0, n))).size === new Set(ids).size)
      return ids.map((id) => id.slice(0, n));
  return [...ids];
}

interface Column {
  title: string;
  cells: string[];
}

const GAP = '  ';
const columnWidth = (c: Column) => Math.max(...[c.title, ...c.cells].map(displayWidth));
const tableWidth = (cols: readonly Column[]) =>
  cols.reduce((sum, c) => sum + columnWidth(c), 0) + GAP.length * (cols.length - 1);

/**
 * The table for `avspl1t jobs`, at most `maxWidth` columns wide: on a narrow
 * terminal ids become unique prefixes (which every command accepts), the input is
 * elided from the left, then CREATED, SEGMENTS and INPUT are left out in turn.
 */
export function formatJobs(jobs: readonly Job[], maxWidth = Number.POSITIVE_INFINITY): string {
  if (jobs.length === 0) return 'no jobs';
  const column = (title: string, cell: (j: Job) => string): Column => ({
    title,
    cells: jobs.map((j) => printable(cell(j))),
  });
  let cols = [
    column('ID', (j) => j.id),
    column('STATE', (j) => stateName(j.state)),
    column('PERCENT', (j) => `${j.percentComplete.toFixed(1)}%`),
    column('SEGMENTS', segments),
    column('CREATED', (j) => time(j.createdAtMs)),
    column('INPUT', (j) => describe(j.details?.input)),
  ];
  if (tableWidth(cols) > maxWidth) cols[0] = { title: 'ID', cells: shortIds(jobs.map((j) => j.id)) };
  const input = cols[cols.length - 1]!;
  for (const leftOut of ['CREATED', 'SEGMENTS', 'INPUT']) {
    if (tableWidth(cols) <= maxWidth) break;
    const others = cols.filter((c) => c !== input);
    const room = maxWidth - tableWidth(others) - GAP.length;
    if (cols.includes(input) && room >= 12) {
      cols = [...others, { title: input.title, cells: input.cells.map((c) => elideStart(c, room)) }];
      break;
    }
    cols = cols.filter((c) => c.title !== leftOut);
  }
  const widths = cols.map(columnWidth);
  const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - displayWidth(text)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i]!))).join(GAP);
  return [line(cols.map((c) => c.title)), ...jobs.map((_, r) => line(cols.map((c) => c.cells[r]!)))].join(
    '\n',
  );
}
