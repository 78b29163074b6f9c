// A database outage seen through the RPC API: with PostgreSQL cut off (a proxy
// between coordinator and server drops every connection), GetTask, Heartbeat
// and FinishTask answer UNAVAILABLE instead of crashing or hanging, the outage
// is logged once, and the same coordinator serves normally once it is back.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { pino } from 'pino';
import { startCoordinator } from '../../src/coordinator/index.js';
import { openTaskStore } from '../../src/db/index.js';
import { connectCoordinator } from '../../src/rpc/client.js';
import { resultFor, sampleJob } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';

/** A TCP proxy to `port` that can drop every connection and refuse new ones until restored. */
async function cuttableProxy(port: number) {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The gRPC code a call failed with (or 'ok'). */
async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (err) {
    return Code[ConnectError.from(err).code] ?? String(err);
  }
}

const server = usePostgres();

describe('a PostgreSQL outage', { timeout: 120_000 }, () => {
  it('GetTask, Heartbeat and FinishTask answer UNAVAILABLE while the database is away, then work again', async (t) => {
    const url = await server().createDatabase('outage');
    const proxy = await cuttableProxy(server().port);
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const store = await openTaskStore(url.replace(`:${server().port}/`, `:${proxy.port}/`), {
      log,
      poolSize: 4,
    });
    const running = await startCoordinator({ listen: '127.0.0.1:0', db: store, leaseMs: 120_000, log });
    const { client, close } = connectCoordinator(running.address);
    try {
      await client.submitJob({ job: sampleJob() });
      const split = (await client.getTask({ workerId: 'w1', waitMs: 5000 })).task!;
      assert.equal(split.kind.case, 'split');

      proxy.cut();
      const started = Date.now();
      const during = {
        getTask: await codeOf(client.getTask({ workerId: 'w1', waitMs: 0 })),
        heartbeat: await codeOf(
          client.heartbeat({ workerId: 'w1', taskId: split.id, lease: split.lease, progress: 0.5 }),
        ),
        finishTask: await codeOf(
          client.finishTask({
            workerId: 'w1',
            taskId: split.id,
            lease: split.lease,
            result: resultFor(split, 3),
          }),
        ),
      };
      const outageCallsMs = Date.now() - started;
      assert.deepEqual(during, {
        getTask: 'Unavailable',
        heartbeat: 'Unavailable',
        finishTask: 'Unavailable',
      });

      proxy.restore();
      // The same coordinator, the same lease: the finish lands and the encodes are handed out.
      const finished = await client.finishTask({
        workerId: 'w1',
        taskId: split.id,
        lease: split.lease,
        result: resultFor(split, 3),
      });
      assert.equal(finished.accepted, true);
      const next = (await client.getTask({ workerId: 'w1', waitMs: 5000 })).task;
      assert.equal(next?.kind.case, 'encode');

      const events = lines.map((l) => JSON.parse(l) as { event?: string; downMs?: number });
      const down = events.filter((e) => e.event === 'database_unavailable');
      const up = events.filter((e) => e.event === 'database_available');
      assert.equal(down.length, 1, 'the outage is logged once, not per failed call');
      assert.equal(up.length, 1);
      assert.ok((up[0]!.downMs ?? 0) > 0);
      t.diagnostic(
        `three calls during the outage took ${outageCallsMs} ms; outage lasted ${up[0]!.downMs} ms`,
      );
    } finally {
      close();
      await running.close();
      await store.close();
      await proxy.close();
    }
  });
});
