// Live jobs: a WatchJob server stream per job (no polling), ended when the
// component goes away.
import { useEffect, useState } from 'preact/hooks';
import type { Job } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type Coordinator, needsToken } from './client.js';

/**
 * The job as WatchJob streams it (starting from `initial`), and the stream's
 * error if it broke. No stream when `enabled` is false or `initial` is finished.
 */
export function useWatchedJob(
  client: Coordinator,
  id: string,
  onLocked: () => void,
  initial?: Job,
  enabled = true,
): { job: Job | undefined; error: string | undefined } {
  const [job, setJob] = useState<Job | undefined>(initial);
  const [error, setError] = useState<string | undefined>();
  const skip = !enabled || (initial ? initial.finishedAtMs > 0n : false);
  useEffect(() => {
    if (skip) return undefined;
    const abort = new AbortController();
    (async () => {
      try {
        for await (const res of client.watchJob({ jobId: id }, { signal: abort.signal }))
          if (res.job) setJob(res.job);
      } catch (err) {
        if (abort.signal.aborted) return;
        if (needsToken(err)) onLocked();
        else setError(err instanceof Error ? err.message : String(err));
      }
    })();
    return () => abort.abort();
  }, [client, id, skip]);
  return { job, error };
}
