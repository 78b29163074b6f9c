// The chaos soak's client probe, run in the client namespace: one Connect call (ListWorkers) through
// the load balancer every interval, on a new connection each time, one JSON line per call:
// {"t": start ms, "ms": duration, "status": HTTP status, or 0 when nothing answered, "error"?}.
// Usage: node probe.js <host:port> <interval ms> <timeout ms>
import { request } from 'node:http';

const [target = '', intervalArg = '1000', timeoutArg = '4000'] = process.argv.slice(2);
const [host, port] = target.split(':');
const interval = Number(intervalArg);
const timeout = Number(timeoutArg);

function probe(): void {
  const t = Date.now();
  let done = false;
  const report = (status: number, error?: string) => {
    if (done) return;
    done = true;
    console.log(JSON.stringify({ t, ms: Date.now() - t, status, ...(error ? { error } : {}) }));
  };
  const req = request(
    {
      host,
      port: Number(port),
      method: 'POST',
      path: '/avspl1t.v1.CoordinatorService/ListWorkers',
      headers: { 'content-type': 'application/json' },
      agent: false,
      timeout,
    },
    (res) => {
      res.resume();
      res.on('end', () => report(res.statusCode ?? 0));
      res.on('error', (e) => report(0, e.message));
    },
  );
  req.on('timeout', () => {
    report(0, 'timeout');
    req.destroy();
  });
  req.on('error', (e) => report(0, e.message));
  req.end('{}');
}

setInterval(probe, interval);
probe();
