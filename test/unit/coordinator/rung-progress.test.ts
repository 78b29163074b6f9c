// What `status` and `wait` show of a ladder job (Job.renditions and its task
// summaries), read from task rows alone: for tasks that cover every rung, and
// for jobs split by earlier versions, one task per rung.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { ALL_RUNGS, jobView } from '../../../src/coordinator/job-view.js';
import type { JobRow, TaskBrief } from '../../../src/db/index.js';
import { JobState, TaskKind, TaskState } from '../../../src/db/states.js';
import { EncodeJobSchema } from '../../../src/gen/avspl1t/v1/coordinator_pb.js';
import { RenditionSchema, SourceInfoSchema } from '../../../src/gen/avspl1t/v1/media_pb.js';

const PIECES = 4;
const ladder = ['av1-180p', 'av1-90p', 'h264-90p'].map((name) => create(RenditionSchema, { name }));

function job(rungsTogether: boolean, segmentsDone: number): JobRow {
  return {
    id: 'j',
    state: JobState.Running,
    details: toBinary(EncodeJobSchema, create(EncodeJobSchema, { renditions: ladder, rungsTogether })),
    source: toBinary(SourceInfoSchema, create(SourceInfoSchema, { width: 320, height: 180 })),
    result: null,
    failure_reason: null,
    segments_total: PIECES * ladder.length,
    segments_done: segmentsDone,
    has_audio: 0,
    audio_done: 0,
    created_at: 1,
    updated_at: 1,
    finished_at: null,
  };
}

function task(idx: number, state: TaskState): TaskBrief {
  return {
    id: `t${idx}`,
    job_id: 'j',
    kind: TaskKind.Encode,
    idx,
    state,
    progress: state === TaskState.Running ? 0.5 : 0,
    attempts: 1,
    last_error: null,
    lease_owner: state === TaskState.Running ? 'w1' : null,
  };
}

describe('per-rung progress of a ladder job', () => {
  it('tasks of every rung: a finished task of pieces 0-1 counts 2 segments in each rung; a running one shows "all rungs"', () => {
    // Tasks: pieces 0-1 (idx 0), piece 2 (idx 6), piece 3 (idx 9).
    const tasks = [task(0, TaskState.Succeeded), task(6, TaskState.Running), task(9, TaskState.Queued)];
    const view = jobView(job(true, 6), tasks);
    assert.deepEqual(
      view.renditions.map((r) => [r.name, r.segmentsDone, r.segmentsTotal]),
      ladder.map((r) => [r.name, 2, PIECES]),
    );
    assert.deepEqual(
      view.tasks.map((t) => [t.index, t.segments, t.rendition, t.workerId]),
      [[2, 1, ALL_RUNGS, 'w1']],
    );
  });

  it('a job split by an earlier version (a task per rung, idx rung × pieces + piece) reads as before', () => {
    // Rung 1 done (idx 4..7 as one task of 4 pieces), rung 0 piece 0 done, rung 2 running from piece 2.
    const tasks = [
      task(0, TaskState.Succeeded),
      task(1, TaskState.Queued),
      task(4, TaskState.Succeeded),
      task(8, TaskState.Queued),
      task(10, TaskState.Running),
    ];
    const view = jobView(job(false, 5), tasks);
    assert.deepEqual(
      view.renditions.map((r) => [r.name, r.segmentsDone]),
      [
        ['av1-180p', 1],
        ['av1-90p', 4],
        ['h264-90p', 0],
      ],
    );
    assert.deepEqual(
      view.tasks.map((t) => [t.index, t.segments, t.rendition]),
      [[2, 2, 'h264-90p']],
    );
  });
});
