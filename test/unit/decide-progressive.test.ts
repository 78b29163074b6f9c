// Progressive playlists in the job state machine, without a database: decide()
// and manifestTasks() driven as a store drives them (claims, finishes, releases
// and lease expiries in any order), checking that published prefixes only grow, one manifest task at a time,
// and that the final manifest comes once, after every encode and the audio.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create, fromBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  decide,
  type Effects,
  manifestTasks,
  newJob,
  type Policy,
  type TaskOutcome,
  type TaskResult,
} from '../../src/coordinator/decide.js';
import type { JobRow, NewTask } from '../../src/db/schema.js';
import { JobState, TaskKind, TaskState } from '../../src/db/states.js';
import { EncodeResultSchema, TaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { fileAt } from '../../src/storage/index.js';
import { audioResult, manifestResult, sampleJob, splitResult } from '../fixtures/messages.js';

const NOW = 1_900_000_000_000;
const policy: Policy = { maxAttempts: 3, backoffMs: () => 1000 };

type Row = NewTask & TaskResult;

/** What a worker reports for `row`: an encode's segments come from its payload's pieces and rung. */
function outcome(row: Row): TaskOutcome {
  const kind = fromBinary(TaskSchema, row.payload).kind;
  switch (kind.case) {
    case 'split':
      throw new Error('split is done before');
    case 'encode': {
      // Rung by rung (a task of every rung lists them in EncodeTask.rungs).
      const rungs = kind.value.rungs.length
        ? kind.value.rungs.map((r) => r.renditionIndex)
        : [kind.value.renditionIndex];
      const segments = rungs.flatMap((r) =>
        kind.value.pieces.map((p) => ({
          index: p.index,
          renditionIndex: r,
          file: fileAt(`/out/${r}/seg-${p.index}.m4s`),
          init: fileAt(`/out/${r}/init.mp4`),
          start: p.start,
          duration: p.duration,
          timescale: 1000,
        })),
      );
      return {
        kind: 'succeeded',
        result: { case: 'encode', value: create(EncodeResultSchema, { segments }) },
      };
    }
    case 'audio':
      return { kind: 'succeeded', result: { case: 'audio', value: audioResult() } };
    default:
      return { kind: 'succeeded', result: { case: 'manifest', value: manifestResult() } };
  }
}

/** Applies a decision's job change to a job row (what a store does). */
function applyJob(job: JobRow, e: Effects): JobRow {
  const c = e.job ?? {};
  return {
    ...job,
    state: c.state ?? job.state,
    result: c.result ?? job.result,
    source: c.source ?? job.source,
    details: c.details ?? job.details,
    segments_total: c.segmentsTotal ?? job.segments_total,
    has_audio: c.hasAudio ?? job.has_audio,
    segments_done: c.segmentsDone ?? job.segments_done,
    audio_done: c.audioDone ?? job.audio_done,
  };
}

/** The segments per rung a manifest task lists, as "rung:index" sorted. */
function listed(row: Row): string[] {
  const kind = fromBinary(TaskSchema, row.payload).kind;
  assert.equal(kind.case, 'manifest');
  return kind.value.segments.map((s) => `${s.renditionIndex}:${s.index}`).sort();
}

function progressiveFlag(row: Row): boolean {
  const kind = fromBinary(TaskSchema, row.payload).kind;
  return kind.case === 'manifest' && kind.value.progressive;
}

/**
 * Runs a job of `pieces` pieces to the end, claiming and finishing tasks in the
 * order `picks` gives (several running at once), as a store applies decide().
 * Returns the rows and each manifest task in the order it was made.
 */
function runJob(
  pieces: number,
  opts: { progressive: boolean; hasAudio: boolean; ladder: string },
  picks: Iterator<number>,
): { job: JobRow; rows: Row[]; made: Row[]; openManifestsSeen: number } {
  const start = newJob('job-1', sampleJob('/data', opts), NOW, policy);
  let job: JobRow = { ...start.job, state: JobState.Running };
  const split = start.tasks[0]!;
  const e = decide(
    job,
    { ...split, idx: 0, attempts: 1, max_attempts: 3, lease_owner: 'w1' },
    { kind: 'succeeded', result: { case: 'split', value: splitResult(pieces, opts.hasAudio) } },
    NOW,
    policy,
  );
  job = applyJob(job, e);
  const rows: Row[] = e.create.map((t) => ({ ...t, idx: t.idx ?? 0, state: TaskState.Queued, result: null }));
  const made: Row[] = [];
  let openManifestsSeen = 0;
  const next = () => picks.next().value as number;
  while (job.state === JobState.Running) {
    const queued = rows.filter((r) => r.state === TaskState.Queued);
    const running = rows.filter((r) => r.state === TaskState.Running);
    assert.ok(queued.length + running.length > 0, 'a running job always has work left');
    openManifestsSeen = Math.max(
      openManifestsSeen,
      [...queued, ...running].filter((r) => r.kind === TaskKind.Manifest).length,
    );
    // Claim (up to three at once) or finish, as the picks say.
    if (queued.length > 0 && (running.length === 0 || (running.length < 3 && next() % 2 === 0))) {
      queued[next() % queued.length]!.state = TaskState.Running;
      continue;
    }
    const row = running[next() % running.length]!;
    const facts = { ...row, attempts: 1, max_attempts: 3, lease_owner: 'w1' };
    // Now and then a worker gives a task back (shutdown) or its lease expires: it is queued again.
    const lost = next() % 5;
    if (lost < 2) {
      const kind =
        lost === 0
          ? ({ kind: 'released', reason: 'shutdown' } as const)
          : ({ kind: 'expired', leaseMs: 1000 } as const);
      const d = decide(job, facts, kind, NOW, policy);
      assert.equal(d.task.state, TaskState.Queued);
      assert.equal(d.createManifest, false);
      row.state = TaskState.Queued;
      continue;
    }
    const d = decide(job, facts, outcome(row), NOW, policy);
    assert.equal(d.task.state, TaskState.Succeeded);
    row.state = TaskState.Succeeded;
    row.result = d.task.state === TaskState.Succeeded ? d.task.result : null;
    job = applyJob(job, d);
    if (d.createManifest)
      for (const t of manifestTasks(job, rows, NOW, policy)) {
        const added = { ...t, idx: t.idx ?? 0, state: TaskState.Queued, result: null };
        rows.push(added);
        made.push(added);
      }
  }
  return { job, rows, made, openManifestsSeen };
}

describe('decide: progressive manifests', () => {
  test('whatever order tasks run, finish, are given back or expire in, progressive prefixes only grow, one manifest at a time, the final one once after all', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom('single', 'default'),
        fc.infiniteStream(fc.nat()),
        (pieces, progressive, hasAudio, ladder, picks) => {
          const { job, rows, made, openManifestsSeen } = runJob(
            pieces,
            { progressive, hasAudio, ladder },
            picks[Symbol.iterator](),
          );
          assert.equal(job.state, JobState.Succeeded);
          assert.ok(openManifestsSeen <= 1, 'at most one manifest task open at a time');
          const rungs = ladder === 'default' ? 4 : 1;
          const final = made.at(-1)!;
          assert.equal(final.idx, 0, 'the last manifest made is the final one');
          assert.equal(progressiveFlag(final), false);
          assert.equal(made.filter((m) => m.idx === 0).length, 1, 'one final manifest');
          assert.equal(listed(final).length, pieces * rungs);
          const earlier = made.slice(0, -1);
          if (!progressive) assert.equal(earlier.length, 0);
          let last = 0;
          for (const m of earlier) {
            assert.ok(progressiveFlag(m));
            assert.ok(m.idx > last && m.idx <= pieces, `prefix ${m.idx} after ${last}`);
            last = m.idx;
            // Exactly segments 0..idx-1 of every rung.
            const want = Array.from({ length: rungs }, (_, r) =>
              Array.from({ length: m.idx }, (_, i) => `${r}:${i}`),
            )
              .flat()
              .sort();
            assert.deepEqual(listed(m), want);
          }
          assert.ok(rows.every((r) => r.state === TaskState.Succeeded));
        },
      ),
      { numRuns: 200 },
    );
  });

  test('a progressive manifest success leaves the job running and asks for the next manifest', () => {
    const job = newJob('job-1', sampleJob('/data', { progressive: true }), NOW, policy).job;
    const facts = { id: 't', job_id: job.id, kind: TaskKind.Manifest, idx: 2, payload: new Uint8Array() };
    const e = decide(
      { ...job, state: JobState.Running },
      { ...facts, attempts: 1, max_attempts: 3, lease_owner: 'w1' },
      { kind: 'succeeded', result: { case: 'manifest', value: manifestResult() } },
      NOW,
      policy,
    );
    assert.equal(e.task.state, TaskState.Succeeded);
    assert.equal(e.job, undefined);
    assert.equal(e.createManifest, true);
  });
});
