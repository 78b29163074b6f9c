/**
 * A TCP proxy to PostgreSQL that reads the client's protocol messages. Armed with
 * some bytes, it forwards the COMMIT of the first transaction whose messages
 * contained them (an explicit COMMIT, or the Sync that commits an autocommit
 * statement), then cuts that connection before the server's reply comes back:
 * the transaction commits, the client never hears so.
 */
import net from 'node:net';

export interface CommitCuttingProxy {
  port: number;
  /** Cuts the next transaction whose messages contain `needle` right after it commits. */
  arm(needle: string): void;
  /** How many COMMITs were cut so far. */
  cuts(): number;
  close(): Promise<void>;
}

/** The extended protocol's Sync message type ('S'). */
const SYNC = 0x53;

/** A proxy to the PostgreSQL server on 127.0.0.1:`port`. */
export async function commitCuttingProxy(port: number): Promise<CommitCuttingProxy> {
  let armed: Buffer | undefined;
  let cut = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) s.on('error', () => {});
    upstream.pipe(client);
    let cutHere = false;
    // Once cut, the server side stays open (its replies read and dropped) until the
    // server has run every message it was sent and closed: a server that cannot
    // write its replies would end the session before reaching the COMMIT.
    client.on('close', () => cutHere || upstream.destroy());
    upstream.on('close', () => client.destroy());
    let buf = Buffer.alloc(0);
    let started = false;
    let mentioned = false;
    let inBlock = false;
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        // The startup (and SSL request) messages have no type byte; then [type][int32 length][body].
        const head = started ? 1 : 0;
        if (buf.length < head + 4) return;
        const size = head + buf.readInt32BE(head);
        if (buf.length < size) return;
        const msg = buf.subarray(0, size);
        buf = buf.subarray(size);
        if (!started) started = msg.readInt32BE(4) !== 80877103;
        upstream.write(msg);
        if (!head) continue;
        const query =
          msg[0] === 0x51
            ? msg
                .subarray(5, size - 1)
                .toString()
                .trim()
                .toLowerCase()
            : '';
        if (query.startsWith('begin')) {
          mentioned = false;
          inBlock = true;
        }
        if (armed && msg.includes(armed)) mentioned = true;
        // A COMMIT ends a transaction block; outside one, a Sync ends the implicit
        // transaction of the statements before it (an autocommit statement commits).
        const commits = query === 'commit' || (msg[0] === SYNC && !inBlock);
        if (query === 'commit' || query === 'rollback') inBlock = false;
        if (armed && mentioned && commits) {
          armed = undefined;
          cut++;
          cutHere = true;
          upstream.unpipe(client);
          upstream.resume();
          upstream.end(); // the server gets the COMMIT, then end of stream
          client.destroy(); // the client never hears back
          return;
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    arm(needle: string) {
      armed = Buffer.from(needle);
    },
    cuts: () => cut,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
