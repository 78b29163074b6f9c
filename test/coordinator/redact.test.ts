// Secrets never leave the coordinator: S3 credentials in a job are blanked in
// every Job it returns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, toJsonString } from '@bufbuild/protobuf';
import { redacted } from '../../src/coordinator/index.js';
import { JobSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { FileSchema, FolderSchema } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { sampleJob } from '../fixtures/messages.js';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'SECRET-KEY',
  sessionToken: 'SESSION-TOKEN',
  region: 'eu-west-1',
};

test('redaction blanks secret keys and session tokens everywhere in a Job, and leaves the original alone', () => {
  const details = sampleJob('/d', {
    input: create(FileSchema, {
      location: { case: 's3', value: { bucket: 'in', path: 'a.mp4', credentials } },
    }),
    output: create(FolderSchema, {
      location: { case: 's3', value: { bucket: 'out', path: 'x', credentials } },
    }),
  });
  const manifest = create(FileSchema, {
    location: { case: 's3', value: { bucket: 'out', path: 'x/master.m3u8', credentials } },
  });
  const job = create(JobSchema, { id: 'j', details, manifest });
  const clean = redacted(JobSchema, job);
  const json = toJsonString(JobSchema, clean);
  assert.doesNotMatch(json, /SECRET-KEY|SESSION-TOKEN/);
  assert.match(json, /AKIDEXAMPLE/, 'the access key id is not a secret and helps users');
  assert.match(toJsonString(JobSchema, job), /SECRET-KEY/, 'the stored message is untouched');
});

test('redaction drops user info from an endpoint URL stored before such endpoints were refused', () => {
  const details = sampleJob('/d', {
    input: create(FileSchema, {
      location: {
        case: 's3',
        value: {
          bucket: 'in',
          path: 'a.mp4',
          credentials: { endpoint: 'http://KEY:TOPSECRET@127.0.0.1:9000/' },
        },
      },
    }),
  });
  const json = toJsonString(JobSchema, redacted(JobSchema, create(JobSchema, { id: 'j', details })));
  assert.doesNotMatch(json, /TOPSECRET|KEY@/);
  assert.match(json, /http:\/\/127\.0\.0\.1:9000\//, 'the endpoint itself is kept');
});
