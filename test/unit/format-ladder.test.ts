// `avspl1t status` of a ladder job: one line per rung with its segments, and
// encode tasks named by their rung and their pieces.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { formatStatus } from '../../src/cli/format.js';
import { JobSchema, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';

it('status lists each rung of a ladder with its segments, and names the rung of a running encode', () => {
  const job = create(JobSchema, {
    id: 'j1',
    state: JobState.RUNNING,
    segmentsTotal: 10,
    segmentsDone: 6,
    renditions: [
      { name: 'av1-180p', segmentsDone: 5, segmentsTotal: 5 },
      { name: 'h264-90p', segmentsDone: 1, segmentsTotal: 5 },
    ],
    tasks: [
      {
        kind: 'encode',
        index: 2,
        segments: 3,
        state: 'running',
        workerId: 'w1',
        attempts: 1,
        rendition: 'h264-90p',
      },
    ],
  });
  const text = formatStatus(job);
  assert.match(text, /^rendition +av1-180p: 5\/5 segments$/m, text);
  assert.match(text, /^rendition +h264-90p: 1\/5 segments$/m, text);
  assert.match(text, /^running +encode h264-90p segs 2-4 on worker w1$/m, text);
});

it('status of a one-rendition job has no rendition lines', () => {
  const text = formatStatus(create(JobSchema, { id: 'j2', state: JobState.RUNNING, segmentsTotal: 4 }));
  assert.doesNotMatch(text, /rendition/);
});
