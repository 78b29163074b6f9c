// The task timeline of a job: one lane per worker, one bar per run (claim) of a
// task from its start to its end, coloured by kind; a run that did not succeed
// is drawn hatched with its outcome. Hover a bar for task, attempt and duration.
import type { TaskRun } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { durationText } from './format.js';

const LANE = 28;
const LEFT = 150;
const WIDTH = 900;
const AXIS = 24;

/** Tick step (ms) giving at most about 8 ticks over `spanMs`. */
function tickStep(spanMs: number): number {
  for (const s of [
    100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000,
    3_600_000,
  ])
    if (spanMs / s <= 8) return s;
  return 7_200_000;
}

export function Timeline(props: { runs: TaskRun[]; nowMs: number }) {
  const { runs, nowMs } = props;
  if (runs.length === 0) return <p class="muted">No task has started yet.</p>;
  const end = (r: TaskRun) => (r.endedAtMs > 0n ? Number(r.endedAtMs) : nowMs);
  const t0 = Math.min(...runs.map((r) => Number(r.startedAtMs)));
  const t1 = Math.max(t0 + 1, ...runs.map(end));
  const workers = [...new Set(runs.map((r) => r.workerId))];
  const x = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * (WIDTH - LEFT - 10);
  const height = AXIS + workers.length * LANE + 6;
  const step = tickStep(t1 - t0);
  const ticks: number[] = [];
  for (let t = 0; t <= t1 - t0; t += step) ticks.push(t);
  return (
    <svg
      class="timeline"
      viewBox={`0 0 ${WIDTH} ${height}`}
      width="100%"
      role="img"
      aria-label="task timeline"
    >
      <defs>
        <pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
          <rect width="3" height="6" fill="rgba(0,0,0,0.35)" />
        </pattern>
      </defs>
      {ticks.map((t) => (
        <g key={t}>
          <line x1={x(t0 + t)} x2={x(t0 + t)} y1={AXIS - 4} y2={height} class="tick" />
          <text x={x(t0 + t)} y={AXIS - 8} class="tick-label">
            {durationText(t)}
          </text>
        </g>
      ))}
      {workers.map((w, i) => (
        <text key={w} x={4} y={AXIS + i * LANE + LANE / 2 + 4} class="lane-label">
          {w.length > 20 ? `${w.slice(0, 19)}…` : w}
        </text>
      ))}
      {runs.map((r) => {
        const lane = workers.indexOf(r.workerId);
        const start = Number(r.startedAtMs);
        const x0 = x(start);
        const w = Math.max(2, x(end(r)) - x0);
        const y = AXIS + lane * LANE + 3;
        const outcome = r.outcome || 'running';
        const label = r.kind === 'encode' ? `encode ${r.index}` : r.kind;
        return (
          <g key={`${r.taskId}-${r.attempt}`} class={`run ${r.kind} ${outcome}`} data-outcome={outcome}>
            <title>
              {`${label}, attempt ${r.attempt}, ${outcome}, ${durationText(end(r) - start)}${r.error ? `: ${r.error}` : ''}`}
            </title>
            <rect x={x0} y={y} width={w} height={LANE - 6} rx={3} class="bar" />
            {outcome !== 'succeeded' && outcome !== 'running' ? (
              <rect x={x0} y={y} width={w} height={LANE - 6} rx={3} fill="url(#hatch)" />
            ) : null}
            {w > 40 ? (
              <text x={x0 + 4} y={y + LANE / 2 + 1} class="bar-label">
                {label}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}
