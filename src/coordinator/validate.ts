// SubmitJob validation: a job is refused with a message naming the bad field.
// Returns the job with defaults filled in (encoder settings).
import { create } from '@bufbuild/protobuf';
import { invalidInput } from '../errors.js';
import { type EncodeJob, EncodeJobSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { File, Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { normalizeSettings, settingsProblem } from '../media/settings.js';
import { MIN_SECONDS_PER_SEGMENT } from '../media/split.js';

/** Longest segment accepted, in seconds. */
export const MAX_SECONDS_PER_SEGMENT = 600;

// As lenient as S3-compatible services are (AWS itself is stricter and will say so).
const BUCKET = /^[a-z0-9][a-z0-9.\-_]{1,254}$/i;

export interface ValidateOptions {
  /** Refuse locations that carry S3 keys (the coordinator then never stores a secret). */
  refuseCredentials?: boolean;
}

function checkLocation(
  field: string,
  loc: File | Folder | undefined,
  isFile: boolean,
  options: ValidateOptions,
): void {
  const l = loc?.location;
  if (!l?.case) throw invalidInput(`${field}: required (a filesystem path or an S3 location)`);
  if (l.case === 'fs') {
    const p = l.value.path;
    if (!p) throw invalidInput(`${field}.fs.path: required`);
    if (!p.startsWith('/')) throw invalidInput(`${field}.fs.path: must be an absolute path (got "${p}")`);
    if (p.includes('\0')) throw invalidInput(`${field}.fs.path: contains a NUL byte`);
    return;
  }
  if (!l.value.bucket) throw invalidInput(`${field}.s3.bucket: required`);
  if (!BUCKET.test(l.value.bucket))
    throw invalidInput(`${field}.s3.bucket: "${l.value.bucket}" is not a valid bucket name`);
  if (isFile && !l.value.path) throw invalidInput(`${field}.s3.path: required (the object key)`);
  const c = l.value.credentials;
  if (options.refuseCredentials && (c?.accessKeyId || c?.secretAccessKey || c?.sessionToken))
    throw invalidInput(
      `${field}.s3.credentials: this coordinator does not store S3 keys; submit without them (avspl1t submit --no-forward-credentials) so workers use their own AWS credentials`,
    );
}

/** Checks a submitted job; returns a normalized copy or throws InvalidInput naming the field. */
export function validateEncodeJob(job: EncodeJob | undefined, options: ValidateOptions = {}): EncodeJob {
  if (!job) throw invalidInput('job: required');
  checkLocation('job.input', job.input, true, options);
  checkLocation('job.working', job.working, false, options);
  checkLocation('job.output', job.output, false, options);
  const sps = job.secondsPerSegment;
  if (!Number.isFinite(sps) || !(sps >= MIN_SECONDS_PER_SEGMENT))
    throw invalidInput(`job.seconds_per_segment: must be at least ${MIN_SECONDS_PER_SEGMENT} (got ${sps})`);
  if (sps > MAX_SECONDS_PER_SEGMENT)
    throw invalidInput(`job.seconds_per_segment: must be at most ${MAX_SECONDS_PER_SEGMENT} (got ${sps})`);
  const settings = normalizeSettings(job.settings);
  const problem = settingsProblem(settings);
  if (problem) throw invalidInput(`job.${problem}`);
  return create(EncodeJobSchema, { ...job, settings });
}
