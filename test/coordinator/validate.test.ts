// SubmitJob validation: every bad job is refused with a message naming the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { checkRequestId, validateEncodeJob } from '../../src/coordinator/index.js';
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
  [
    'parallelism 2^32-1',
    (j) => (j.parallelism = 4294967295),
    /^job\.parallelism: must be at most 4096 \(got 4294967295\)/,
  ],
  ['a non-integer crf', (j) => (j.settings!.crf = 1.5), /^job\.settings\.crf: 1\.5 is out of range/],
  [
    'an encoder name of a megabyte (not echoed whole)',
    (j) => (j.settings!.encoder = 'x'.repeat(1 << 20)),
    /^job\.settings\.encoder: .{0,300}$/s,
  ],
  [
    'an input path longer than PATH_MAX',
    (j) =>
      (j.input = create(FileSchema, { location: { case: 'fs', value: { path: `/${'a'.repeat(5000)}` } } })),
    /^job\.input\.fs\.path: longer than 4096 bytes$/,
  ],
  [
    'an S3 key longer than 1024 bytes',
    (j) =>
      (j.input = create(FileSchema, {
        location: { case: 's3', value: { bucket: 'media', path: 'k'.repeat(1025) } },
      })),
    /^job\.input\.s3\.path: longer than 1024 bytes$/,
  ],
  [
    'an endpoint with credentials in its URL',
    (j) =>
      (j.input = create(FileSchema, {
        location: {
          case: 's3',
          value: {
            bucket: 'media',
            path: 'a.mp4',
            credentials: { endpoint: 'http://KEY:SECRET@127.0.0.1:9000/' },
          },
        },
      })),
    /^job\.input\.s3\.credentials\.endpoint: must not contain credentials/,
  ],
  [
    'an endpoint that is not an http(s) URL',
    (j) =>
      (j.working = create(FolderSchema, {
        location: { case: 's3', value: { bucket: 'media', credentials: { endpoint: 'file:///etc/passwd' } } },
      })),
    /^job\.working\.s3\.credentials\.endpoint: must be an http:\/\/ or https:\/\/ URL/,
  ],
  [
    'an endpoint that is no URL at all',
    (j) =>
      (j.working = create(FolderSchema, {
        location: { case: 's3', value: { bucket: 'media', credentials: { endpoint: 'not a url' } } },
      })),
    /^job\.working\.s3\.credentials\.endpoint: must be an http:\/\/ or https:\/\/ URL/,
  ],
  [
    'a secret key of 10,000 characters',
    (j) =>
      (j.input = create(FileSchema, {
        location: {
          case: 's3',
          value: { bucket: 'media', path: 'a.mp4', credentials: { secretAccessKey: 's'.repeat(10_000) } },
        },
      })),
    /^job\.input\.s3\.credentials\.secret_access_key: longer than 1024 bytes$/,
  ],
  [
    'a region that is not a region name',
    (j) =>
      (j.input = create(FileSchema, {
        location: {
          case: 's3',
          value: { bucket: 'media', path: 'a.mp4', credentials: { region: 'eu west\n' } },
        },
      })),
    /^job\.input\.s3\.credentials\.region: /,
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

test('an endpoint with credentials is refused without echoing them', () => {
  const job = sampleJob();
  job.output = create(FolderSchema, {
    location: {
      case: 's3',
      value: { bucket: 'media', credentials: { endpoint: 'https://AKIAKEY:TOPSECRET@s3.example/' } },
    },
  });
  assert.throws(
    () => validateEncodeJob(job),
    (err: Error) => {
      assert.doesNotMatch(err.message, /TOPSECRET|AKIAKEY/);
      return true;
    },
  );
});

test('the largest accepted parallelism and an endpoint without credentials pass', () => {
  const job = sampleJob('/data', { parallelism: 4096 });
  job.input = create(FileSchema, {
    location: {
      case: 's3',
      value: { bucket: 'media', path: 'a.mp4', credentials: { endpoint: 'http://127.0.0.1:9000' } },
    },
  });
  assert.equal(validateEncodeJob(job).parallelism, 4096);
});

const idCases: [string, () => void, RegExp][] = [
  ['an empty job id', () => checkRequestId('job_id', ''), /^job_id: required$/],
  [
    'a job id of 100,000 characters',
    () => checkRequestId('job_id', 'j'.repeat(100_000)),
    /^job_id: longer than 256 characters$/,
  ],
  [
    'a worker id with a newline',
    () => checkRequestId('worker_id', 'w\nforged log line'),
    /^worker_id: contains a control character$/,
  ],
];
for (const [name, call, message] of idCases) {
  test(`${name} is refused naming the field`, () => {
    assert.throws(call, (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'invalid_input');
      assert.match(err.message, message);
      return true;
    });
  });
}
