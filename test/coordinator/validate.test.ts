// SubmitJob validation: every bad job is refused with a message naming the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { validateEncodeJob } from '../../src/coordinator/index.js';
import { type EncodeJob, EncodeJobSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { FileSchema, FolderSchema } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { sampleJob } from '../fixtures/messages.js';

const cases: [string, (j: EncodeJob) => void, RegExp][] = [
  ['missing input', (j) => (j.input = undefined), /^job\.input: required/],
  ['input without location', (j) => (j.input = create(FileSchema)), /^job\.input: required/],
  [
    'relative input path',
    (j) => (j.input = create(FileSchema, { location: { case: 'fs', value: { path: 'in.mp4' } } })),
    /^job\.input\.fs\.path: must be an absolute path/,
  ],
  [
    'empty working path',
    (j) => (j.working = create(FolderSchema, { location: { case: 'fs', value: { path: '' } } })),
    /^job\.working\.fs\.path: required/,
  ],
  ['missing output', (j) => (j.output = undefined), /^job\.output: required/],
  [
    's3 input without key',
    (j) => (j.input = create(FileSchema, { location: { case: 's3', value: { bucket: 'media' } } })),
    /^job\.input\.s3\.path: required/,
  ],
  [
    'bad bucket name',
    (j) => (j.output = create(FolderSchema, { location: { case: 's3', value: { bucket: 'no/such' } } })),
    /^job\.output\.s3\.bucket: "no\/such" is not a valid bucket name/,
  ],
  [
    'zero seconds per segment',
    (j) => (j.secondsPerSegment = 0),
    /^job\.seconds_per_segment: must be at least 0\.1 \(got 0\)/,
  ],
  [
    'negative seconds per segment',
    (j) => (j.secondsPerSegment = -2),
    /^job\.seconds_per_segment: must be at least 0\.1/,
  ],
  ['NaN seconds per segment', (j) => (j.secondsPerSegment = Number.NaN), /^job\.seconds_per_segment/],
  [
    'huge seconds per segment',
    (j) => (j.secondsPerSegment = 1e9),
    /^job\.seconds_per_segment: must be at most 600/,
  ],
  ['crf out of range', (j) => (j.settings!.crf = 64), /^job\.settings\.crf: 64 is out of range for svt/],
  ['preset out of range', (j) => (j.settings!.preset = 14), /^job\.settings\.preset: 14 is out of range/],
  [
    'unknown encoder',
    (j) => (j.settings!.encoder = 'x264'),
    /^job\.settings\.encoder: unknown encoder "x264"/,
  ],
];

for (const [name, mutate, message] of cases) {
  test(`a job with ${name} is refused naming the field`, () => {
    const job = sampleJob();
    mutate(job);
    assert.throws(
      () => validateEncodeJob(job),
      (err: Error & { kind?: string }) => {
        assert.equal(err.kind, 'invalid_input');
        assert.match(err.message, message);
        return true;
      },
    );
  });
}

test('a missing job is refused', () => {
  assert.throws(() => validateEncodeJob(undefined), { message: 'job: required' });
});

test('a valid job gets default encoder settings', () => {
  const job = create(EncodeJobSchema, { ...sampleJob(), settings: undefined });
  const valid = validateEncodeJob(job);
  assert.deepEqual(
    { encoder: valid.settings?.encoder, crf: valid.settings?.crf, preset: valid.settings?.preset },
    { encoder: 'svt', crf: 30, preset: 8 },
  );
});
