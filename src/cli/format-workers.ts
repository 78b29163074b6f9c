// Text for people: the `avspl1t workers` table (who is working, on what, last seen when).
import type { WorkerInfo } from '../gen/avspl1t/v1/coordinator_pb.js';
import { printable } from './format.js';

/** How long ago `thenMs` was, as of `nowMs`: "3s ago", "5m ago", "2h ago", "4d ago". */
export function ago(thenMs: bigint, nowMs: bigint): string {
  if (thenMs <= 0n) return 'never';
  const s = Math.max(0, Number(nowMs - thenMs) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** `text` cut to `max` characters, the cut marked with "…". */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** What a worker holds: "3f2a9c1b encode 4, 77d0e2aa audio". */
function tasks(w: WorkerInfo): string {
  if (w.current.length === 0) return '-';
  return w.current
    .map((t) => `${t.jobId.slice(0, 8)} ${t.kind}${t.kind === 'encode' ? ` ${t.index}` : ''}`)
    .join(', ');
}

/**
 * The workers table; each line cut to `width` characters when given (a terminal's
 * columns). Text from workers (ids, host names) has its control characters escaped.
 */
export function formatWorkers(workers: readonly WorkerInfo[], nowMs: bigint, width?: number): string {
  if (workers.length === 0) return 'no workers seen';
  const rows = [
    ['ID', 'HOST', 'SLOTS', 'DONE', 'SEEN', 'TASKS'],
    ...workers.map((w) => [
      cut(printable(w.id), 24),
      cut(printable(w.host) || '-', 16),
      w.slots > 0 ? String(w.slots) : '-',
      String(w.tasksDone),
      ago(w.lastSeenMs, nowMs),
      printable(tasks(w)),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .map((line) => (width && width > 0 ? cut(line, width) : line))
    .join('\n');
}
