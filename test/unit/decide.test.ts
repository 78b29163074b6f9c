// The job state machine (decide.ts) without a database: table tests of each
// outcome, and properties of whole jobs driven through decide() alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decide,
  decideCancel,
  decideSubmit,
  type Effects,
  encodesDone,
  type JobFacts,
  manifestTask,
  newJob,
  type Policy,
  type Submission,
  type TaskFacts,
  type TaskOutcome,
} from '../../src/coordinator/decide.js';
import type { JobRow, NewTask } from '../../src/db/schema.js';
import { JobState, RunOutcome, TaskKind, TaskState } from '../../src/db/states.js';
import { AppError, ErrorKind } from '../../src/errors.js';
import { audioResult, encodeResult, manifestResult, sampleJob, splitResult } from '../fixtures/messages.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: (attempts) => 1000 * 2 ** (attempts - 1) };

/** A running task of `job` made from a NewTask row, as the store would hand it to decide. */
function running(row: NewTask, attempts = 1): TaskFacts {
  return {
    id: row.id,
    job_id: row.job_id,
    kind: row.kind,
    idx: row.idx ?? 0,
    payload: row.payload,
    attempts,
    max_attempts: row.max_attempts ?? policy.maxAttempts,
    lease_owner: 'w1',
  };
}

/** Applies a decision's job change to a job row (what a store does). */
function applyJob(job: JobRow, e: Pick<Effects, 'job'>): JobRow {
  const c = e.job;
  if (!c) return job;
  return {
    ...job,
    state: c.state ?? job.state,
    failure_reason: c.failureReason ?? job.failure_reason,
    result: c.result ?? job.result,
    source: c.source ?? job.source,
    segments_total: c.segmentsTotal ?? job.segments_total,
    has_audio: c.hasAudio ?? job.has_audio,
    segments_done: c.segmentsDone ?? job.segments_done,
    audio_done: c.audioDone ?? job.audio_done,
  };
}

/** A new job whose split succeeded with `pieces` pieces: the job row and the tasks it made. */
function splitDone(pieces: number, hasAudio: boolean): { job: JobRow; tasks: NewTask[] } {
  const made = newJob('job-1', sampleJob(), NOW, policy);
  const split = made.tasks[0]!;
  const job = { ...made.job, state: JobState.Running };
  const e = decide(
    job,
    running(split),
    { kind: 'succeeded', result: { case: 'split', value: splitResult(pieces, hasAudio) } },
    NOW,
    policy,
  );
  return { job: applyJob(job, e), tasks: e.create };
}

const succeeded = (row: NewTask): TaskOutcome => {
  if (row.kind === TaskKind.Audio)
    return { kind: 'succeeded', result: { case: 'audio', value: audioResult() } };
  return { kind: 'succeeded', result: { case: 'encode', value: encodeResult(row.idx ?? 0) } };
};

describe('decide: one outcome at a time', () => {
  test('a split success creates one encode per piece (and the audio task), wakes every poll and records the source', () => {
    const { job, tasks } = splitDone(4, true);
    assert.deepEqual(tasks.map((t) => t.kind).sort(), ['audio', 'encode', 'encode', 'encode', 'encode']);
    assert.equal(job.segments_total, 4);
    assert.equal(job.has_audio, 1);
    assert.ok(job.source);
    const ids = [...tasks].sort((a, b) => (a.ord ?? 0) - (b.ord ?? 0)).map((t) => t.id);
    assert.deepEqual(ids, [...ids].sort(), 'ids sort in claim order');
  });

  const cases: {
    name: string;
    outcome: TaskOutcome;
    attempts: number;
    task: TaskState;
    run: RunOutcome;
    job?: JobState;
    runAfter?: number;
  }[] = [
    {
      name: 'a transient failure with attempts left is retried after the backoff',
      outcome: { kind: 'failed', reason: 'storage 503', transient: true },
      attempts: 2,
      task: TaskState.Queued,
      run: RunOutcome.Retried,
      runAfter: NOW + 2000,
    },
    {
      name: 'a transient failure on the last attempt fails the job',
      outcome: { kind: 'failed', reason: 'storage 503', transient: true },
      attempts: 3,
      task: TaskState.Failed,
      run: RunOutcome.Failed,
      job: JobState.Failed,
    },
    {
      name: 'a permanent failure fails the job at once',
      outcome: { kind: 'failed', reason: 'not a video', transient: false },
      attempts: 1,
      task: TaskState.Failed,
      run: RunOutcome.Failed,
      job: JobState.Failed,
    },
    {
      name: 'a release requeues at once and refunds the attempt',
      outcome: { kind: 'released', reason: 'worker stopping' },
      attempts: 2,
      task: TaskState.Queued,
      run: RunOutcome.Released,
      runAfter: NOW,
    },
    {
      name: 'an expired lease with attempts left requeues at once',
      outcome: { kind: 'expired', leaseMs: 10_000 },
      attempts: 1,
      task: TaskState.Queued,
      run: RunOutcome.Expired,
      runAfter: NOW,
    },
    {
      name: 'an expired lease on the last attempt fails the job',
      outcome: { kind: 'expired', leaseMs: 10_000 },
      attempts: 3,
      task: TaskState.Failed,
      run: RunOutcome.Expired,
      job: JobState.Failed,
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const { job, tasks } = splitDone(2, false);
      const e = decide(job, running(tasks[0]!, c.attempts), c.outcome, NOW, policy);
      assert.equal(e.task.state, c.task);
      assert.equal(e.run.outcome, c.run);
      assert.equal(e.job?.state, c.job);
      if (c.job === JobState.Failed) assert.match(e.cancelOpenTasks ?? '', /^job failed: /);
      else assert.equal(e.cancelOpenTasks, undefined);
      if (e.task.state === TaskState.Queued) {
        assert.equal(e.task.runAfter, c.runAfter);
        assert.equal(e.task.attempts, c.outcome.kind === 'released' ? c.attempts - 1 : c.attempts);
      }
    });

  test('failure reasons name the task and its attempts', () => {
    const { job, tasks } = splitDone(2, false);
    const e = decide(
      job,
      running(tasks.find((t) => t.idx === 1)!, 3),
      { kind: 'expired', leaseMs: 10_000 },
      NOW,
      policy,
    );
    assert.match(
      e.job?.failureReason ?? '',
      /^encode 1 failed \(after 3 attempts\): lease expired: worker w1 sent no heartbeat for 10 s/,
    );
    const p = decide(
      job,
      running(tasks[0]!, 1),
      { kind: 'failed', reason: 'no video stream', transient: false },
      NOW,
      policy,
    );
    assert.equal(p.job?.failureReason, `encode ${tasks[0]!.idx} failed: no video stream`);
  });

  test('an encode reporting segments that are not its pieces fails the job with both lists', () => {
    const { job, tasks } = splitDone(2, false);
    const e0 = tasks.find((t) => t.idx === 0)!;
    const e = decide(
      job,
      running(e0),
      { kind: 'succeeded', result: { case: 'encode', value: encodeResult(7) } },
      NOW,
      policy,
    );
    assert.equal(e.job?.state, JobState.Failed);
    assert.equal(e.job?.failureReason, 'encode 0 returned segments [7] for pieces [0]');
    assert.equal(e.job?.segmentsDone, undefined, 'nothing counted');
  });

  test('a result of the wrong kind is refused as invalid input', () => {
    const { job, tasks } = splitDone(1, false);
    assert.throws(
      () =>
        decide(
          job,
          running(tasks[0]!),
          { kind: 'succeeded', result: { case: 'audio', value: audioResult() } },
          NOW,
          policy,
        ),
      (err) => err instanceof AppError && err.kind === ErrorKind.InvalidInput,
    );
  });

  test('a task of a job that already ended is cancelled and changes nothing else', () => {
    const { job, tasks } = splitDone(1, false);
    for (const state of [JobState.Cancelled, JobState.Failed, JobState.Succeeded]) {
      const e = decide({ ...job, state }, running(tasks[0]!), succeeded(tasks[0]!), NOW, policy);
      assert.equal(e.task.state, TaskState.Cancelled);
      assert.equal(e.job, undefined);
      assert.equal(e.wake, 0);
    }
  });

  test('the manifest success ends the job with its result', () => {
    const { job } = splitDone(1, false);
    const row = manifestTask(job, [], NOW, policy);
    const e = decide(
      job,
      running(row),
      { kind: 'succeeded', result: { case: 'manifest', value: manifestResult() } },
      NOW,
      policy,
    );
    assert.equal(e.job?.state, JobState.Succeeded);
    assert.deepEqual(e.job?.result, e.task.state === TaskState.Succeeded ? e.task.result : undefined);
  });

  test('cancel ends an open job and cancels its tasks; an ended job is left alone', () => {
    assert.deepEqual(decideCancel({ state: JobState.Running }), {
      job: { state: JobState.Cancelled },
      cancelOpenTasks: 'job cancelled',
    });
    assert.equal(decideCancel({ state: JobState.Succeeded }), undefined);
  });
});

describe('decide: whole jobs', () => {
  test('whatever order encodes and audio succeed in, the manifest task is made once, by the last of them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        fc.infiniteStream(fc.nat()),
        (pieces, hasAudio, picks) => {
          let { job, tasks } = splitDone(pieces, hasAudio);
          const open = [...tasks];
          let manifests = 0;
          const it = picks[Symbol.iterator]();
          while (open.length > 0) {
            const [row] = open.splice(it.next().value % open.length, 1);
            const e = decide(job, running(row!), succeeded(row!), NOW, policy);
            job = applyJob(job, e);
            if (e.createManifest) {
              manifests++;
              assert.equal(open.length, 0, 'the manifest waits for the last encode or audio');
              assert.equal(e.wake, 1);
            }
            assert.equal(encodesDone(job), open.length === 0);
          }
          assert.equal(manifests, 1);
          assert.equal(job.segments_done, pieces);
          assert.equal(job.state, JobState.Running);
        },
      ),
    );
  });

  test('a task failing transiently is retried exactly until its attempts run out, with growing backoff', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), (maxAttempts) => {
        const p: Policy = { ...policy, maxAttempts };
        const made = newJob('j', sampleJob(), NOW, p);
        const job = { ...made.job, state: JobState.Running };
        let last = 0;
        for (let attempts = 1; ; attempts++) {
          const e = decide(
            job,
            running(made.tasks[0]!, attempts),
            { kind: 'failed', reason: 'flaky', transient: true },
            NOW,
            p,
          );
          if (attempts < maxAttempts) {
            assert.equal(e.task.state, TaskState.Queued);
            assert.ok(e.retryAt! > last, 'backoff grows');
            last = e.retryAt!;
            continue;
          }
          assert.equal(e.task.state, TaskState.Failed);
          assert.equal(e.job?.state, JobState.Failed);
          assert.equal(
            e.job?.failureReason,
            maxAttempts > 1 ? `split failed (after ${maxAttempts} attempts): flaky` : 'split failed: flaky',
          );
          break;
        }
      }),
    );
  });

  test('a failed or cancelled job is final: decide never reopens it', () => {
    const outcomes: TaskOutcome[] = [
      { kind: 'failed', reason: 'x', transient: true },
      { kind: 'failed', reason: 'x', transient: false },
      { kind: 'released', reason: 'x' },
      { kind: 'expired', leaseMs: 1000 },
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(JobState.Failed, JobState.Cancelled, JobState.Succeeded),
        fc.constantFrom(...outcomes),
        fc.integer({ min: 1, max: 5 }),
        (state, outcome, attempts) => {
          const { job, tasks } = splitDone(2, false);
          const facts: JobFacts = { ...job, state };
          const e = decide(facts, running(tasks[0]!, attempts), outcome, NOW, policy);
          assert.equal(e.job, undefined);
          assert.equal(e.create.length, 0);
          assert.equal(e.createManifest, false);
        },
      ),
    );
  });
});

describe('decideSubmit', () => {
  const sub = (o: Partial<Submission> = {}): Submission => ({
    id: 'new',
    job: sampleJob(),
    location: 'file:///data/out',
    overwrite: false,
    earlierFiles: false,
    ...o,
  });

  test('a free location is taken; the job writes at its top', () => {
    const d = decideSubmit(sub(), undefined);
    assert.ok(!d.refused);
    assert.equal(d.job.mediaFolder, '');
    assert.equal(d.replaceOwner, false);
    assert.equal(d.cancel, undefined);
  });

  test("another job's location is refused unless overwritten; overwriting cancels it if open and uses a folder of its own", () => {
    assert.deepEqual(decideSubmit(sub(), { id: 'old', state: JobState.Running }), {
      refused: 'owned',
      owner: 'old',
      ownerState: JobState.Running,
    });
    const d = decideSubmit(sub({ overwrite: true }), { id: 'old', state: JobState.Running });
    assert.ok(!d.refused);
    assert.equal(d.cancel, 'old');
    assert.equal(d.replaceOwner, true);
    assert.equal(d.job.mediaFolder, 'new');
    const done = decideSubmit(sub({ overwrite: true }), { id: 'old', state: JobState.Succeeded });
    assert.ok(!done.refused);
    assert.equal(done.cancel, undefined, 'an ended job is not cancelled');
  });

  test('replacesJobId overwrites only while that job owns the location', () => {
    const mine = decideSubmit(sub({ replacesJobId: 'old' }), { id: 'old', state: JobState.Failed });
    assert.ok(!mine.refused);
    const other = decideSubmit(sub({ replacesJobId: 'old' }), { id: 'other', state: JobState.Failed });
    assert.equal(other.refused, 'owned');
  });

  test('earlier files are refused unless overwritten; a location whose job row is gone is free', () => {
    assert.deepEqual(decideSubmit(sub({ earlierFiles: true }), undefined), { refused: 'earlier-files' });
    const gone = decideSubmit(sub(), { id: 'deleted' });
    assert.ok(!gone.refused);
    assert.equal(gone.replaceOwner, true);
  });
});
