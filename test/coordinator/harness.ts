/**
 * A coordinator on a loopback port with a fresh SQLite file, a client for it,
 * and helpers to wait for a job. Everything is removed by close().
 */
import path from 'node:path';
import {
  type RunningCoordinator,
  type StartCoordinatorOptions,
  startCoordinator,
} from '../../src/coordinator/index.js';
import type { Job } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/index.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

export interface TestCoordinator {
  running: RunningCoordinator;
  address: string;
  client: ClientHandle['client'];
  dir: TmpDir;
  dbPath: string;
  close(): Promise<void>;
}

/** Starts a coordinator on 127.0.0.1:0 with a fresh database. */
export async function startTestCoordinator(
  options: Partial<StartCoordinatorOptions> = {},
): Promise<TestCoordinator> {
  const dir = await tmpDir('avspl1t-coord-');
  const dbPath = path.join(dir.path, 'state.sqlite');
  const running = await startCoordinator({
    listen: '127.0.0.1:0',
    db: dbPath,
    pollIntervalMs: 50,
    ...options,
  });
  const handle = connectCoordinator(running.address);
  return {
    running,
    address: running.address,
    client: handle.client,
    dir,
    dbPath,
    async close() {
      handle.close();
      await running.close();
      await dir.cleanup();
    },
  };
}

/** Watches a job until it finishes (or `timeoutMs` passes) and returns its last state. */
export async function waitForJob(
  client: ClientHandle['client'],
  jobId: string,
  timeoutMs = 10_000,
): Promise<Job> {
  // Our own timer rather than the call's timeoutMs, whose timer outlives an early return.
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  let last: Job | undefined;
  try {
    for await (const res of client.watchJob({ jobId }, { signal: stop.signal })) {
      last = res.job;
      if (last && last.finishedAtMs > 0n) return last;
    }
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  throw new Error(`job ${jobId} did not finish; last seen ${JSON.stringify(last?.state)}`);
}
