// Another coordinator on a thread of its own, which a test calls while its own
// thread is stopped inside a finish (a getter that decide() reads): what that call
// does lands in the database between two steps of the stopped finish, in that
// order every time, with no sleeps to hope the order right.
import { once } from 'node:events';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  Worker,
  workerData,
} from 'node:worker_threads';
import pg from 'pg';
import type { Policy } from '../../src/coordinator/decide.js';
import { openPostgresStore } from '../../src/db/postgres/index.js';
import type { Finish, Finished } from '../../src/db/task-store.js';

/** A finish as it crosses to the thread: the policy's backoff is a function, so it goes as a number. */
type SentFinish = Omit<Finish, 'policy'> & { maxAttempts: number; backoffMs: number };

type Call = { kind: 'sql'; text: string; values?: unknown[] } | { kind: 'finish'; finish: SentFinish };

type Answer = { value: unknown } | { error: string };

const ROLE = 'avspl1t-side-thread';

/** A store and an admin connection of the same database, on another thread. */
export class SideThread {
  private constructor(
    private readonly worker: Worker,
    private readonly answers: MessagePort,
    private readonly done: Int32Array,
  ) {}

  /** Starts the thread, with its store open on `url`. */
  static async start(url: string): Promise<SideThread> {
    const { port1, port2 } = new MessageChannel();
    const done = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL(import.meta.url), {
      workerData: { role: ROLE, url, answers: port2, done },
      transferList: [port2],
    });
    await once(worker, 'online');
    // Its first answer says the store is open.
    const ready = new SideThread(worker, port1, done);
    ready.wait();
    return ready;
  }

  /** Runs `text` on the thread's own connection; returns once it committed. Blocks this thread. */
  sql(text: string, values?: unknown[]): void {
    this.call({ kind: 'sql', text, values });
  }

  /** Finishes `f` through the thread's store; returns its answer. Blocks this thread. */
  finish(f: Finish, policy: { maxAttempts: number; backoffMs: number }): Finished {
    const { policy: _, ...rest } = f;
    return this.call({ kind: 'finish', finish: { ...rest, ...policy } }) as Finished;
  }

  async close(): Promise<void> {
    this.worker.postMessage({ kind: 'close' });
    await once(this.worker, 'exit');
  }

  private call(c: Call): unknown {
    this.worker.postMessage(c);
    return this.wait();
  }

  /** Sleeps this thread until the side thread answers. */
  private wait(): unknown {
    if (Atomics.wait(this.done, 0, 0, 30_000) === 'timed-out')
      throw new Error('the side thread did not answer');
    Atomics.store(this.done, 0, 0);
    const answer = receiveMessageOnPort(this.answers)?.message as Answer | undefined;
    if (!answer) throw new Error('the side thread answered nothing');
    if ('error' in answer) throw new Error(`on the side thread: ${answer.error}`);
    return answer.value;
  }
}

async function serve(url: string, answers: MessagePort, done: Int32Array): Promise<void> {
  const store = await openPostgresStore(url);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const answer = (a: Answer) => {
    answers.postMessage(a);
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
  };
  answer({ value: 'ready' });
  parentPort!.on('message', async (c: Call | { kind: 'close' }) => {
    try {
      if (c.kind === 'close') {
        await admin.end();
        await store.close();
        parentPort!.close();
        answers.close();
        return;
      }
      if (c.kind === 'sql') {
        await admin.query(c.text, c.values);
        answer({ value: undefined });
        return;
      }
      const { maxAttempts, backoffMs, ...f } = c.finish;
      const policy: Policy = { maxAttempts, backoffMs: () => backoffMs };
      answer({ value: await store.finish({ ...f, policy }) });
    } catch (err) {
      answer({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
}

if (!isMainThread && workerData?.role === ROLE) {
  const { url, answers, done } = workerData as { url: string; answers: MessagePort; done: Int32Array };
  await serve(url, answers, done);
}
