// One job: its details, live progress (WatchJob), the task timeline chart and
// runs table (ListJobRuns, read again when the job moves on), cancel and
// resubmit, and a player for its output once it is reachable over HTTP.
import { useEffect, useState } from 'preact/hooks';
import { JobState, type ListJobRunsResponse } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { errorText, needsToken } from './client.js';
import { durationText, etaMs, locationText, playlistUrl, rungText, stateName, timeText } from './format.js';
import { type PageProps, Progress } from './jobs-page.js';
import { Player } from './player.js';
import { Timeline } from './timeline.js';
import { useWatchedJob } from './use-watch.js';

export function JobPage(props: PageProps & { id: string }) {
  const { client, onLocked, id } = props;
  const { job, error } = useWatchedJob(client, id, onLocked);
  const [runs, setRuns] = useState<ListJobRunsResponse | undefined>();
  const [action, setAction] = useState<string | undefined>();
  // Runs change when a task starts or ends, not with every progress report.
  const step = job
    ? `${job.state}/${job.segmentsDone}/${job.finishedAtMs}/${job.tasks.length}/${job.percentComplete > 0}`
    : '';
  useEffect(() => {
    if (!job) return;
    client.listJobRuns({ jobId: id }).then(setRuns, (err: unknown) => {
      if (needsToken(err)) onLocked();
    });
  }, [client, id, step]);
  if (error)
    return (
      <p class="error">
        Cannot watch job {id}: {error}
      </p>
    );
  if (!job) return <p>Loading…</p>;
  const state = stateName(job.state);
  const eta = etaMs(job, Date.now());
  const url = job.state === JobState.SUCCEEDED ? playlistUrl(job) : undefined;
  const act = (what: string, fn: () => Promise<{ jobId?: string }>) => {
    setAction(`${what}…`);
    fn().then(
      (res) => {
        setAction(undefined);
        if (res.jobId) location.hash = `#/jobs/${res.jobId}`;
      },
      (err: unknown) => (needsToken(err) ? onLocked() : setAction(`${what} failed: ${errorText(err)}`)),
    );
  };
  const run = runs?.runs ?? [];
  return (
    <section class="job" data-job={job.id} data-state={state}>
      <div class="bar">
        <h1>
          Job <code>{job.id}</code>
        </h1>
        {job.state === JobState.QUEUED || job.state === JobState.RUNNING ? (
          <button
            type="button"
            class="cancel"
            onClick={() =>
              act('cancel', async () => {
                await client.cancelJob({ jobId: id });
                return {};
              })
            }
          >
            Cancel
          </button>
        ) : null}
        {job.state === JobState.FAILED || job.state === JobState.CANCELLED ? (
          <button
            type="button"
            class="resubmit"
            onClick={() =>
              act('resubmit', () =>
                client.submitJob({ job: { ...job.details!, mediaFolder: '' }, replacesJobId: id }),
              )
            }
          >
            Resubmit
          </button>
        ) : null}
        {action ? <span class="busy">{action}</span> : null}
      </div>
      <dl class="facts">
        <dt>State</dt>
        <dd class={`state ${state}`} id="job-state">
          {state}
        </dd>
        <dt>Progress</dt>
        <dd id="job-progress">
          <Progress percent={job.percentComplete} />
          {job.segmentsTotal > 0 ? ` ${job.segmentsDone} of ${job.segmentsTotal} segments` : ''}
          {eta === undefined ? '' : `, about ${durationText(eta)} left`}
        </dd>
        <dt>Rung</dt>
        <dd>{rungText(job)}</dd>
        <dt>Input</dt>
        <dd class="path">{locationText(job.details?.input)}</dd>
        <dt>Output</dt>
        <dd class="path">{locationText(job.details?.output)}</dd>
        <dt>Submitted</dt>
        <dd>{timeText(job.createdAtMs)}</dd>
        <dt>Finished</dt>
        <dd>
          {timeText(job.finishedAtMs)}
          {job.finishedAtMs > 0n ? ` (${durationText(Number(job.finishedAtMs - job.createdAtMs))})` : ''}
        </dd>
        {job.failureReason ? (
          <>
            <dt>Failure</dt>
            <dd class="reason">{job.failureReason}</dd>
          </>
        ) : null}
        {job.warnings.length > 0 ? (
          <>
            <dt>Warnings</dt>
            <dd>{job.warnings.join('; ')}</dd>
          </>
        ) : null}
      </dl>
      {url ? (
        <>
          <h2>Output</h2>
          <Player url={url} />
        </>
      ) : null}
      <h2>Task timeline</h2>
      <Timeline runs={run} nowMs={Number(runs?.nowMs ?? 0n) || Date.now()} />
      <h2>Runs</h2>
      <table class="runs">
        <thead>
          <tr>
            <th>Task</th>
            <th>Attempt</th>
            <th>Worker</th>
            <th>Started</th>
            <th>Took</th>
            <th>Outcome</th>
          </tr>
        </thead>
        <tbody>
          {run.map((r) => (
            <tr key={`${r.taskId}-${r.attempt}`} data-outcome={r.outcome || 'running'}>
              <td>{r.kind === 'encode' ? `encode ${r.index}` : r.kind}</td>
              <td>{r.attempt}</td>
              <td>{r.workerId}</td>
              <td>{timeText(r.startedAtMs)}</td>
              <td>{r.endedAtMs > 0n ? durationText(Number(r.endedAtMs - r.startedAtMs)) : 'running'}</td>
              <td>
                {r.outcome || 'running'}
                {r.error ? <div class="reason">{r.error}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
