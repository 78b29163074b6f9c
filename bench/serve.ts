// A coordinator in its own process for the dispatch and scale-out benchmarks, so
// the simulated workers do not share its event loop. Prints its address as one
// JSON line on stdout and serves until stdin closes.
import { startCoordinator } from '../src/coordinator/index.js';

const db = process.argv[2];
if (!db) throw new Error('usage: serve.js <sqlite path | postgres url> [poll interval ms]');
const running = await startCoordinator({
  listen: '127.0.0.1:0',
  db,
  pollIntervalMs: Number(process.argv[3] ?? 500),
});
process.stdout.write(`${JSON.stringify({ address: running.address, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void running.close().then(() => process.exit(0));
});
