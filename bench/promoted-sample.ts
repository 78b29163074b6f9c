// Where the objects that outlive a scavenge are allocated: preloaded into the
// coordinator of a paced trace, it samples allocations with V8's sampling heap
// profiler, keeping the objects a major GC collected (those that were moved to
// the old space and died there) as well as those still alive, and writes the
// profile (the inspector's SamplingHeapProfile, JSON) after BENCH_PROMOTED_MS.
// Usage:
//   BENCH_PROMOTED_OUT=/tmp/p.json BENCH_NODE_ARGS=--import=./dist/bench/promoted-sample.js \
//     node dist/bench/paced-trace.js sqlite
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { isMainThread } from 'node:worker_threads';

const out = process.env.BENCH_PROMOTED_OUT;
// --import runs in worker threads too (the SQLite checkpoint thread); only the event loop's heap matters here.
if (out && isMainThread) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
  setTimeout(
    async () => {
      const { profile } = await session.post('HeapProfiler.getSamplingProfile');
      writeFileSync(out, JSON.stringify(profile));
    },
    Number(process.env.BENCH_PROMOTED_MS ?? 50_000),
  ).unref();
}
