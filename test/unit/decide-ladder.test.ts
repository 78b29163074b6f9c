// decide() on the split of a ladder job, without a database: the encode tasks
// per range (every rung in each), segments_total, the resolved rungs stored in the job's
// details, and a rung the source cannot give failing the job by name.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { decide, type Effects, newJob, type Policy, type TaskFacts } from '../../src/coordinator/decide.js';
import type { NewTask } from '../../src/db/schema.js';
import { JobState, RunOutcome, TaskKind, TaskState } from '../../src/db/states.js';
import { type EncodeJob, EncodeJobSchema, TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { sampleJob, splitResult } from '../fixtures/messages.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };

/** The effects of a successful split of `pieces` pieces (a 320x180 source) for a job with `details`. */
function split(
  details: EncodeJob,
  pieces: number,
  hasAudio = false,
  joinable = false,
): { effects: Effects; split: NewTask } {
  const made = newJob('job-1', details, NOW, policy);
  const task = made.tasks[0]!;
  const facts: TaskFacts = {
    id: task.id,
    job_id: task.job_id,
    kind: task.kind,
    idx: 0,
    payload: task.payload,
    attempts: 1,
    max_attempts: policy.maxAttempts,
    lease_owner: 'w1',
  };
  const job = { ...made.job, state: JobState.Running };
  const value = splitResult(pieces, hasAudio);
  // Pieces cut from the source with whole frame lists can share one encoder run (grouped).
  if (joinable)
    for (const p of value.pieces) {
      p.inSource = true;
      p.framePts = Array.from({ length: 60 }, (_, i) => p.start / 1000 + i / 30);
    }
  const outcome = { kind: 'succeeded', result: { case: 'split', value } } as const;
  return { effects: decide(job, facts, outcome, NOW, policy), split: task };
}

/** Each encode task as "rung first-last" (rung "" for the single rendition), sorted. */
function encodes(tasks: readonly NewTask[]): string[] {
  return tasks
    .filter((t) => t.kind === TaskKind.Encode)
    .flatMap((t) => {
      const kind = fromBinary(TaskSchema, t.payload).kind;
      assert.equal(kind.case, 'encode');
      const e = kind.value;
      // A task of every rung (EncodeTask.rungs) counts once per rung.
      const names = e.rungs.length ? e.rungs.map((r) => r.rendition?.name ?? '') : [e.rendition?.name ?? ''];
      return names.map((n) => `${n} ${e.pieces[0]!.index}-${e.pieces.at(-1)!.index}`);
    })
    .sort();
}

const rung = (encoder: string, height: number, kbps: number) => ({
  settings: { encoder, crf: 30, preset: encoder === 'x264' ? 0 : 12 },
  height,
  maxBitrateKbps: kbps,
});

describe('decide: the split of a ladder job', () => {
  const cases: {
    name: string;
    details: Partial<EncodeJob>;
    pieces: number;
    rungs: string[];
    segmentsTotal: number;
  }[] = [
    {
      name: 'no ladder: one encode per piece at the top of the media folder, details unchanged',
      details: {},
      pieces: 3,
      rungs: [''],
      segmentsTotal: 3,
    },
    {
      name: 'two listed rungs: every rung encodes every piece',
      details: { renditions: [rung('svt', 180, 300), rung('x264', 90, 100)] as EncodeJob['renditions'] },
      pieces: 3,
      rungs: ['av1-180p', 'h264-90p'],
      segmentsTotal: 6,
    },
    {
      name: 'the default ladder of a 320x180 source',
      details: { ladder: 'default' },
      pieces: 2,
      rungs: ['av1-144p', 'av1-180p', 'h264-180p', 'h264-90p'],
      segmentsTotal: 8,
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const { effects } = split(sampleJob('/data', c.details), c.pieces);
      assert.equal(effects.task.state, TaskState.Succeeded);
      assert.equal(effects.job?.state, JobState.Running);
      assert.equal(effects.job?.segmentsTotal, c.segmentsTotal);
      const want = c.rungs
        .flatMap((r) => Array.from({ length: c.pieces }, (_, i) => `${r} ${i}-${i}`))
        .sort();
      assert.deepEqual(encodes(effects.create), want);
      // parallelism 0 (the fleet unknown): a task per rung and piece, its index rung × pieces +
      // piece, so the indexes step through rungs × pieces (progress counts segments by them).
      const idx = effects.create.map((t) => t.idx).sort((a, b) => (a ?? 0) - (b ?? 0));
      assert.deepEqual(
        idx,
        Array.from({ length: c.pieces * c.rungs.length }, (_, i) => i),
      );
      if (c.rungs[0] === '') {
        assert.equal(effects.job?.details, undefined, 'the single rendition stays implicit');
        return;
      }
      const stored = fromBinary(EncodeJobSchema, effects.job!.details!);
      assert.equal(stored.ladder, '');
      assert.deepEqual(stored.renditions.map((r) => r.name).sort(), c.rungs);
      assert.ok(stored.renditions.every((r) => r.width > 0 && r.height > 0));
      assert.equal(stored.rungsTogether, false, 'the job says each task covers one rung');
    });

  test('grouped pieces: each rung gets the same ranges, and the audio task is made once', () => {
    const { effects } = split(
      sampleJob('/data', {
        parallelism: 2,
        renditions: [rung('svt', 180, 300), rung('x264', 90, 100)] as EncodeJob['renditions'],
      }),
      8,
      true,
      true,
    );
    assert.equal(effects.create.filter((t) => t.kind === TaskKind.Audio).length, 1);
    const byRung = new Map<string, string[]>();
    for (const e of encodes(effects.create)) {
      const [name, range] = e.split(' ');
      byRung.set(name!, [...(byRung.get(name!) ?? []), range!]);
    }
    assert.deepEqual([...byRung.keys()], ['av1-180p', 'h264-90p']);
    assert.deepEqual(byRung.get('av1-180p'), byRung.get('h264-90p'));
    assert.ok(
      byRung.get('av1-180p')!.some((r) => r.split('-')[0] !== r.split('-')[1]),
      'pieces are grouped',
    );
    assert.equal(effects.job?.segmentsTotal, 16);
    assert.equal(effects.job?.hasAudio, 1);
    // Sized for known slots: every rung of a range in one task (one decode), its index first piece × rungs.
    for (const t of effects.create.filter((t) => t.kind === TaskKind.Encode)) {
      const kind = fromBinary(TaskSchema, t.payload).kind;
      assert.equal(kind.case === 'encode' && kind.value.rungs.length, 2);
      assert.equal(t.idx! % 2, 0);
    }
    assert.equal(fromBinary(EncodeJobSchema, effects.job!.details!).rungsTogether, true);
  });

  test('a rung larger than the source fails the job naming the rung; the split itself succeeded', () => {
    const { effects } = split(
      sampleJob('/data', {
        renditions: [rung('svt', 180, 300), rung('x264', 1080, 3000)] as EncodeJob['renditions'],
      }),
      3,
    );
    assert.equal(effects.task.state, TaskState.Succeeded);
    assert.equal(effects.run.outcome, RunOutcome.Succeeded);
    assert.equal(effects.job?.state, JobState.Failed);
    assert.match(
      effects.job?.failureReason ?? '',
      /rendition 1 \(h264-1080p\).*larger than the source \(320x180\)/,
    );
    assert.match(effects.cancelOpenTasks ?? '', /^job failed: .*h264-1080p/);
    assert.deepEqual(effects.create, []);
    assert.equal(effects.wake, 0);
  });
});
