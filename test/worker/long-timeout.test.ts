// Task timeouts longer than setTimeout's 2^31-1 ms: an encode task over more
// than ~3,577 s of media gets such a timeout, and must not time out at once.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timeoutSeconds } from '../../src/coordinator/timeouts.js';
import { type SplitResult, SplitResultSchema, TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import type { OperationContext, SplitOptions } from '../../src/media/index.js';
import { fileAt } from '../../src/storage/index.js';
import { Worker } from '../../src/worker/index.js';
import { startTestCoordinator, waitForJob } from '../coordinator/harness.js';
import { sampleJob } from '../fixtures/messages.js';
import { FakeOperations, untilAborted } from './fake-operations.js';

/** Seconds of media per piece: 900 + 600 × 4,000 s allowed = 2.4e9 ms, above 2^31-1. */
const PIECE_SECONDS = 4000;

/** Fake operations whose source is two pieces of 4,000 s each. */
class LongSource extends FakeOperations {
  override async split(opts: SplitOptions, ctx: OperationContext): Promise<SplitResult> {
    await super.split(opts, ctx);
    const ms = PIECE_SECONDS * 1000;
    return create(SplitResultSchema, {
      source: {
        width: 320,
        height: 180,
        frameRate: { num: 30, den: 1 },
        timeBase: { num: 1, den: 1000 },
        duration: 2 * ms,
        frameCount: 2 * PIECE_SECONDS * 30,
      },
      pieces: [0, 1].map((i) => ({
        index: i,
        file: fileAt(`/data/work/piece-${i}.mkv`),
        start: i * ms,
        duration: ms,
      })),
    });
  }
}

test('an encode task with a timeout above 2^31-1 ms runs to its end instead of timing out at once', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const t = await startTestCoordinator({ maxAttempts: 1 });
  // Each encode takes 300 ms, or ends early when the runner aborts it (a timeout).
  const ops = new LongSource({
    onEncode: (_opts, ctx) =>
      Promise.race([new Promise<void>((r) => setTimeout(r, 300)), untilAborted(ctx.signal)]),
  });
  const w = await Worker.start({
    coordinator: t.address,
    tmpRoot: path.join(t.dir.path, 'tmp'),
    heartbeatMs: 50,
    pollWaitMs: 1000,
    operations: ops,
  });
  try {
    const { jobId } = await t.client.submitJob({ job: sampleJob() });
    const job = await waitForJob(t.client, jobId);
    assert.equal(job.failureReason, '');
    assert.equal(job.segmentsDone, 2);
    assert.ok(!warnings.includes('TimeoutOverflowWarning'), `warnings: ${warnings.join(', ')}`);
  } finally {
    process.off('warning', onWarning);
    await w.stop();
    await t.close();
  }
});

test('a task timeout stays within the wire type (uint32 seconds) for any media duration', () => {
  const task = create(TaskSchema, {
    kind: {
      case: 'encode',
      value: {
        source: { timeBase: { num: 1, den: 1000 } },
        pieces: [{ index: 0, duration: 1e13 }],
      },
    },
  });
  const seconds = timeoutSeconds(task);
  assert.ok(Number.isInteger(seconds) && seconds > 0 && seconds <= 2 ** 32 - 1, String(seconds));
});
