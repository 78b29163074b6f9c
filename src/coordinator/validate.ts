// Request validation, in one place: every field a client sends (a submitted job,
// ids, worker names) is checked here against bounds, and refused with a message
// naming the field. Returns the job with defaults filled in (encoder settings).
// Hand-written rather than a schema: the messages are protobuf-es types already,
// and each check is one line naming its proto field.
import { create } from '@bufbuild/protobuf';
import { invalidInput } from '../errors.js';
import { type EncodeJob, EncodeJobSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { File, Folder, S3Credentials } from '../gen/avspl1t/v1/storage_pb.js';
import { checkLadder, LADDERS } from '../media/ladder.js';
import { isAv1, normalizeSettings, settingsProblem } from '../media/settings.js';
import { MIN_SECONDS_PER_SEGMENT } from '../media/split.js';

/** Longest segment accepted, in seconds. */
export const MAX_SECONDS_PER_SEGMENT = 600;

/** Bounds of the request fields (bytes are UTF-8 bytes). */
export const LIMITS = {
  /** Encodes at once a job plans for (more slots than any cluster here has). */
  parallelism: 4096,
  /** Linux PATH_MAX. */
  pathBytes: 4096,
  /** S3's longest object key. */
  s3KeyBytes: 1024,
  /** Access key ids, secret keys. */
  keyBytes: 1024,
  /** STS session tokens run to a few kilobytes. */
  sessionTokenBytes: 8192,
  endpointBytes: 2048,
  regionBytes: 64,
  /** Job, task, lease and worker ids (a worker's default id holds its host name, up to 253). */
  idChars: 256,
  /** Encoder names are short words ("svt"). */
  encoderChars: 32,
  /** A failure reason a worker reports is kept to this many characters. */
  reasonChars: 4096,
} as const;

// As lenient as S3-compatible services are (AWS itself is stricter and will say so).
const BUCKET = /^[a-z0-9][a-z0-9.\-_]{1,254}$/i;
const REGION = /^[a-z0-9-]*$/i;
// C0 controls and DEL: no id needs them, and they forge log lines and terminals.
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface ValidateOptions {
  /** Refuse locations that carry S3 keys (the coordinator then never stores a secret). */
  refuseCredentials?: boolean;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Refuses a string longer than `max` UTF-8 bytes (never echoes it). */
function checkLength(field: string, value: string, max: number): void {
  if (bytes(value) > max) throw invalidInput(`${field}: longer than ${max} bytes`);
}

function checkCredentials(field: string, c: S3Credentials | undefined, options: ValidateOptions): void {
  if (!c) return;
  // Lengths only for the secrets: their text is never put in a message.
  if (bytes(c.accessKeyId) > LIMITS.keyBytes)
    throw invalidInput(`${field}.access_key_id: longer than ${LIMITS.keyBytes} bytes`);
  if (bytes(c.secretAccessKey) > LIMITS.keyBytes)
    throw invalidInput(`${field}.secret_access_key: longer than ${LIMITS.keyBytes} bytes`);
  if (bytes(c.sessionToken) > LIMITS.sessionTokenBytes)
    throw invalidInput(`${field}.session_token: longer than ${LIMITS.sessionTokenBytes} bytes`);
  checkLength(`${field}.region`, c.region, LIMITS.regionBytes);
  if (!REGION.test(c.region)) throw invalidInput(`${field}.region: letters, digits and "-" only`);
  if (c.endpoint) checkEndpoint(`${field}.endpoint`, c.endpoint);
  if (options.refuseCredentials && (c.accessKeyId || c.secretAccessKey || c.sessionToken))
    throw invalidInput(
      `${field}: this coordinator does not store S3 keys; submit without them (avspl1t submit --no-forward-credentials) so workers use their own AWS credentials`,
    );
}

/** An http(s) URL without user info: keys in a URL would be stored and shown as plain text. */
function checkEndpoint(field: string, endpoint: string): void {
  if (bytes(endpoint) > LIMITS.endpointBytes)
    throw invalidInput(`${field}: longer than ${LIMITS.endpointBytes} bytes`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalidInput(`${field}: must be an http:// or https:// URL such as http://127.0.0.1:9000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalidInput(`${field}: must be an http:// or https:// URL such as http://127.0.0.1:9000`);
  if (url.username || url.password)
    throw invalidInput(
      `${field}: must not contain credentials (user:password@); give the keys as access_key_id and secret_access_key`,
    );
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
    // Control characters are allowed: Linux file names may hold them (displays escape them).
    checkLength(`${field}.fs.path`, p, LIMITS.pathBytes);
    if (!p.startsWith('/'))
      throw invalidInput(`${field}.fs.path: must be an absolute path (got "${shown(p)}")`);
    if (p.includes('\0')) throw invalidInput(`${field}.fs.path: contains a NUL byte`);
    return;
  }
  const { bucket, path } = l.value;
  if (!bucket) throw invalidInput(`${field}.s3.bucket: required`);
  if (!BUCKET.test(bucket))
    throw invalidInput(`${field}.s3.bucket: "${shown(bucket)}" is not a valid bucket name`);
  if (isFile && !path) throw invalidInput(`${field}.s3.path: required (the object key)`);
  checkLength(`${field}.s3.path`, path, LIMITS.s3KeyBytes);
  checkCredentials(`${field}.s3.credentials`, l.value.credentials, options);
}

/** A value for a message: cut short and with control characters escaped. */
function shown(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut).slice(1, -1);
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
  if (!Number.isInteger(job.parallelism) || job.parallelism < 0)
    throw invalidInput(`job.parallelism: must be a whole number (got ${job.parallelism})`);
  if (job.parallelism > LIMITS.parallelism)
    throw invalidInput(`job.parallelism: must be at most ${LIMITS.parallelism} (got ${job.parallelism})`);
  const encoder = job.settings?.encoder ?? '';
  if (encoder.length > LIMITS.encoderChars || CONTROL.test(encoder))
    throw invalidInput(`job.settings.encoder: unknown encoder "${shown(encoder, LIMITS.encoderChars)}"`);
  const settings = normalizeSettings(job.settings);
  // `settings` are the AV1 settings (of the single rendition or the default ladder).
  const problem = isAv1(settings.encoder)
    ? settingsProblem(settings)
    : `settings.encoder: unknown encoder "${settings.encoder}" (the AV1 encoder: svt, aom or rav1e; H.264 is a rendition: job.renditions)`;
  if (problem) throw invalidInput(`job.${problem}`);
  if (!(LADDERS as readonly string[]).includes(job.ladder))
    throw invalidInput(`job.ladder: must be "single" or "default" (got "${shown(job.ladder, 32)}")`);
  if (job.ladder && job.renditions.length > 0)
    throw invalidInput('job.ladder: give either a ladder name or renditions, not both');
  const renditions = checkLadder(job.renditions);
  return create(EncodeJobSchema, { ...job, settings, renditions });
}

/** Checks an id a request names (job_id, task_id, lease, worker_id): present, short, printable. */
export function checkRequestId(field: string, value: string): void {
  if (!value) throw invalidInput(`${field}: required`);
  if (value.length > LIMITS.idChars) throw invalidInput(`${field}: longer than ${LIMITS.idChars} characters`);
  if (CONTROL.test(value)) throw invalidInput(`${field}: contains a control character`);
}

/** A worker's failure reason as stored: at most LIMITS.reasonChars characters. */
export function boundedReason(reason: string): string {
  return reason.length > LIMITS.reasonChars ? `${reason.slice(0, LIMITS.reasonChars)}…` : reason;
}
