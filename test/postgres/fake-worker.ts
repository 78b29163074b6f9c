/**
 * Fake workers for scale tests: gRPC clients that call GetTask and answer
 * FinishTask at once with plausible fake results (a SplitResult with N pieces,
 * fake Segments, a fake manifest), touching no media. They retry on any RPC
 * error (UNAVAILABLE during a database outage) like real workers do, and record
 * every task they were handed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Task } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/client.js';
import { resultFor } from '../fixtures/messages.js';

/** One task as a fake worker saw it. */
export interface FakeClaim {
  workerId: string;
  taskId: string;
  lease: string;
  kind: string;
  /** Whether the coordinator accepted the FinishTask (false: lease lost meanwhile). */
  accepted?: boolean;
}

export interface FakeWorkerStats {
  claims: FakeClaim[];
  /** RPC errors seen (GetTask or FinishTask), by gRPC code name or message. */
  errors: string[];
}

/** A fake worker polling one coordinator until stopped. */
export class FakeWorker {
  private readonly handle: ClientHandle;
  private readonly stopping = new AbortController();
  readonly done: Promise<void>;

  constructor(
    address: string,
    readonly id: string,
    /** Pieces each fake split reports. */
    private readonly pieces: number,
    private readonly stats: FakeWorkerStats,
  ) {
    this.handle = connectCoordinator(address);
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let task: Task | undefined;
      try {
        task = (await this.handle.client.getTask({ workerId: this.id, waitMs: 1000 }, { signal })).task;
      } catch (err) {
        if (signal.aborted) return;
        this.stats.errors.push(`GetTask: ${(err as Error).message}`);
        await sleep(200 + Math.random() * 300);
        continue;
      }
      if (!task) continue;
      const claim: FakeClaim = {
        workerId: this.id,
        taskId: task.id,
        lease: task.lease,
        kind: String(task.kind.case),
      };
      this.stats.claims.push(claim);
      claim.accepted = await this.finish(task);
    }
  }

  /** Delivers the fake result, retrying transport and UNAVAILABLE errors for a minute. */
  private async finish(task: Task): Promise<boolean | undefined> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        const res = await this.handle.client.finishTask({
          workerId: this.id,
          taskId: task.id,
          lease: task.lease,
          result: resultFor(task, this.pieces),
        });
        return res.accepted;
      } catch (err) {
        this.stats.errors.push(`FinishTask: ${(err as Error).message}`);
        await sleep(200 + Math.random() * 300);
      }
    }
    return undefined;
  }

  /** Stops polling and closes the connection. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.done;
    this.handle.close();
  }
}
