// The chaos soak's S3 host, run inside its namespace: the test S3 server on a directory that
// survives restarts, reachable on the namespace's address (for workers and clients) and on a unix
// socket (for the soak's own checks, which run outside the namespaces).
// Usage: node s3-host.js <objects-dir> <host:port> <socket-path> <bucket>
import { existsSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import path from 'node:path';
import { startS3Server } from '../../test/helpers/s3-server.js';

const [dir, listen, socketPath, bucket] = process.argv.slice(2);
if (!dir || !listen || !socketPath || !bucket) {
  console.error('usage: s3-host <objects-dir> <host:port> <socket-path> <bucket>');
  process.exit(2);
}
const firstStart = !existsSync(path.join(dir, bucket));
const server = await startS3Server({ directory: dir });
if (firstStart) await server.createBucket(bucket);
const port = Number(new URL(server.endpoint).port);

/** Forwards each connection to the S3 server's own loopback port. */
const forward = (client: Socket) => {
  const upstream = connect(port, '127.0.0.1');
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
};
const [host, listenPort] = listen.split(':');
await new Promise<void>((resolve) => createServer(forward).listen(Number(listenPort), host, resolve));
rmSync(socketPath, { force: true });
await new Promise<void>((resolve) => createServer(forward).listen(socketPath, resolve));
console.log(`ready ${listen}`);
