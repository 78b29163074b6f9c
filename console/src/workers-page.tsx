// The workers page: every worker seen, when it was last heard from, its slots,
// the tasks it holds now and how many it has done (ListWorkers, on demand).
import { useEffect, useState } from 'preact/hooks';
import type { ListWorkersResponse } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { errorText, needsToken } from './client.js';
import { durationText, timeText } from './format.js';
import type { PageProps } from './jobs-page.js';

export function WorkersPage(props: PageProps) {
  const { client, onLocked } = props;
  const [list, setList] = useState<ListWorkersResponse | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loads, setLoads] = useState(0);
  useEffect(() => {
    client
      .listWorkers({})
      .then(setList, (err: unknown) => (needsToken(err) ? onLocked() : setError(errorText(err))));
  }, [client, loads]);
  if (error) return <p class="error">Cannot list workers: {error}</p>;
  if (!list) return <p>Loading…</p>;
  return (
    <section>
      <div class="bar">
        <h1>Workers</h1>
        <button type="button" onClick={() => setLoads((n) => n + 1)}>
          Refresh
        </button>
      </div>
      <table class="workers">
        <thead>
          <tr>
            <th>Worker</th>
            <th>Host</th>
            <th>Slots</th>
            <th>Last seen</th>
            <th>Running now</th>
            <th>Tasks done</th>
            <th>First seen</th>
          </tr>
        </thead>
        <tbody>
          {list.workers.map((w) => (
            <tr key={w.id} data-worker={w.id}>
              <td>{w.id}</td>
              <td>{w.host}</td>
              <td>{w.slots || ''}</td>
              <td>{durationText(Number(list.nowMs - w.lastSeenMs))} ago</td>
              <td>
                {w.current.map((t) => (
                  <div key={t.taskId}>
                    <a href={`#/jobs/${t.jobId}`}>{t.jobId.slice(0, 8)}</a> {t.kind}
                    {t.kind === 'encode' ? ` ${t.index}` : ''}
                  </div>
                ))}
              </td>
              <td>{String(w.tasksDone)}</td>
              <td>{timeText(w.firstSeenMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
