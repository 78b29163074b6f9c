// The jobs page: the newest jobs with state, progress, ETA, rung, input and
// output, times and failure reasons; unfinished ones update live over WatchJob.
// Cancel (queued or running jobs) and resubmit (failed or cancelled ones).
import { useEffect, useState } from 'preact/hooks';
import { type Job, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type Coordinator, errorText, needsToken } from './client.js';
import { durationText, etaMs, isFinished, locationText, rungText, stateName, timeText } from './format.js';
import { useWatchedJob } from './use-watch.js';

/** Unfinished jobs watched live at most: each stream holds one of the browser's few HTTP/1.1 connections. */
const MAX_WATCHED = 4;

export interface PageProps {
  client: Coordinator;
  onLocked: () => void;
}

export function JobsPage(props: PageProps) {
  const { client, onLocked } = props;
  const [jobs, setJobs] = useState<Job[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loads, setLoads] = useState(0);
  useEffect(() => {
    client.listJobs({ limit: 50 }).then(
      (res) => setJobs(res.jobs),
      (err: unknown) => (needsToken(err) ? onLocked() : setError(errorText(err))),
    );
  }, [client, loads]);
  const reload = () => setLoads((n) => n + 1);
  if (error) return <p class="error">Cannot list jobs: {error}</p>;
  if (!jobs) return <p>Loading…</p>;
  let watched = 0;
  return (
    <section>
      <div class="bar">
        <h1>Jobs</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      {jobs.length === 0 ? (
        <p>No jobs yet: submit one with `avspl1t submit`.</p>
      ) : (
        <table class="jobs">
          <thead>
            <tr>
              <th>Job</th>
              <th>State</th>
              <th>Progress</th>
              <th>ETA</th>
              <th>Rung</th>
              <th>Input</th>
              <th>Output</th>
              <th>Submitted</th>
              <th>Finished</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <JobRow
                key={job.id}
                job={job}
                watch={!isFinished(job) && watched++ < MAX_WATCHED}
                {...props}
                onChanged={reload}
              />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function JobRow(props: PageProps & { job: Job; watch: boolean; onChanged: () => void }) {
  const { client, onLocked } = props;
  const live = useWatchedJob(client, props.job.id, onLocked, props.job, props.watch);
  const job = live.job ?? props.job;
  const [busy, setBusy] = useState<string | undefined>();
  const act = (what: string, fn: () => Promise<unknown>) => {
    setBusy(what);
    fn().then(
      () => {
        setBusy(undefined);
        props.onChanged();
      },
      (err: unknown) => {
        if (needsToken(err)) onLocked();
        setBusy(`${what} failed: ${errorText(err)}`);
      },
    );
  };
  const state = stateName(job.state);
  const eta = etaMs(job, Date.now());
  const canCancel = job.state === JobState.QUEUED || job.state === JobState.RUNNING;
  const canResubmit = job.state === JobState.FAILED || job.state === JobState.CANCELLED;
  return (
    <tr data-job={job.id} data-state={state}>
      <td>
        <a href={`#/jobs/${job.id}`} title={job.id}>
          {job.id.slice(0, 8)}
        </a>
      </td>
      <td class={`state ${state}`}>{state}</td>
      <td>
        <Progress percent={job.percentComplete} />
      </td>
      <td>{eta === undefined ? '' : durationText(eta)}</td>
      <td>{rungText(job)}</td>
      <td class="path">{locationText(job.details?.input)}</td>
      <td class="path">{locationText(job.details?.output)}</td>
      <td>{timeText(job.createdAtMs)}</td>
      <td>
        {timeText(job.finishedAtMs)}
        {job.failureReason ? <div class="reason">{job.failureReason}</div> : null}
      </td>
      <td class="actions">
        {canCancel ? (
          <button
            type="button"
            class="cancel"
            onClick={() => act('cancel', () => client.cancelJob({ jobId: job.id }))}
          >
            Cancel
          </button>
        ) : null}
        {canResubmit ? (
          <button
            type="button"
            class="resubmit"
            onClick={() =>
              act('resubmit', () =>
                // As `avspl1t retry`: the same input, folders and settings, replacing this job's output.
                client.submitJob({ job: { ...job.details!, mediaFolder: '' }, replacesJobId: job.id }),
              )
            }
          >
            Resubmit
          </button>
        ) : null}
        {busy ? <div class="busy">{busy}</div> : null}
      </td>
    </tr>
  );
}

/** A progress bar with its percentage. */
export function Progress(props: { percent: number }) {
  const p = Math.max(0, Math.min(100, props.percent));
  return (
    <div
      class="progress"
      role="progressbar"
      aria-valuenow={Math.round(p)}
      aria-valuemin={0}
      aria-valuemax={100}
    >
      <div class="fill" style={{ width: `${p}%` }} />
      <span>{p.toFixed(p === 100 || p === 0 ? 0 : 1)} %</span>
    </div>
  );
}
