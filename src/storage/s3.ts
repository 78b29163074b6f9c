// S3 backend: AWS S3 and S3-compatible services (path-style when an endpoint is
// given). Downloads are streamed to disk, uploads go through lib-storage's
// `Upload` (multipart above the part size); PUTs are atomic so no temp names.
// Secrets never appear in error messages: errors name the bucket/key, the
// endpoint and the S3 error code only.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat as fsStat, rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type File, FileSchema, type Folder, type S3Location } from '../gen/avspl1t/v1/storage_pb.js';
import type { PutOptions, StorageBackend } from './storage.js';

const MiB = 1024 * 1024;
export const DEFAULT_REGION = 'us-east-1';

export interface S3BackendOptions {
  /** Total attempts per request (first try + retries) for transient errors. Default 5. */
  maxAttempts?: number;
  /** Multipart part size in bytes. Default 8 MiB (S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once. Default 4 (memory use ≤ partSize × queueSize). */
  queueSize?: number;
  /** TCP connect timeout in ms. Default 10 s. */
  connectionTimeoutMs?: number;
  /** Socket inactivity timeout in ms. Default 120 s. */
  requestTimeoutMs?: number;
}

/** The S3 location of a File/Folder, validated. */
function s3Loc(loc: File | Folder): S3Location {
  if (loc.location.case !== 's3') throw new AppError(ErrorKind.Internal, 'not an S3 location');
  const v = loc.location.value;
  if (!v.bucket) throw new AppError(ErrorKind.InvalidInput, 'S3 location has no bucket');
  return v;
}

/** The object key of a File; an empty key is invalid. */
function objectKey(file: File): { loc: S3Location; key: string } {
  const loc = s3Loc(file);
  const key = loc.path.replace(/^\/+/, '');
  if (!key) throw new AppError(ErrorKind.InvalidInput, `S3 file has no key: s3://${loc.bucket}/`);
  return { loc, key };
}

/** The endpoint for messages: the configured one without user info/query, or AWS's regional host. */
export function endpointName(loc: S3Location): string {
  const c = loc.credentials;
  if (c?.endpoint) {
    try {
      const u = new URL(c.endpoint);
      return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
    } catch {
      return '(invalid endpoint)';
    }
  }
  return `s3.${c?.region || DEFAULT_REGION}.amazonaws.com`;
}

interface SdkErrorLike {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const NOT_FOUND_CODES = new Set(['NoSuchBucket', 'NoSuchKey', 'NotFound', 'NoSuchUpload']);
const ACCESS_CODES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'Forbidden',
  'ExpiredToken',
  'InvalidToken',
  'AllAccessDisabled',
  'AccountProblem',
]);
const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
]);
const NET_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout']);

/** The Node error code of an error or of the first error of an AggregateError. */
function netCode(e: SdkErrorLike): string | undefined {
  if (e.code) return e.code;
  const first = e.errors?.[0] as SdkErrorLike | undefined;
  return first?.code;
}

/**
 * Maps anything the SDK (or the local file side) throws to an AppError. `what` names the
 * object or bucket (`s3://bucket/key`); the SDK's own message is used only for non-auth errors.
 */
export function mapS3Error(err: unknown, loc: S3Location, what: string): AppError {
  if (err instanceof AppError) return err;
  if (!(err instanceof Error)) return new AppError(ErrorKind.Internal, `S3 error on ${what}: ${String(err)}`);
  const e = err as Error & SdkErrorLike;
  if (e.name === 'AbortError') return new AppError(ErrorKind.Cancelled, 'cancelled', { cause: err });
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? e.name;
  const net = netCode(e);
  const endpoint = endpointName(loc);

  if (net === 'ECONNREFUSED') {
    return new AppError(ErrorKind.Transient, `cannot reach S3 endpoint ${endpoint} (connection refused)`, {
      cause: err,
    });
  }
  if (NOT_FOUND_CODES.has(code) || status === 404) {
    if (code === 'NoSuchBucket')
      return new AppError(ErrorKind.NotFound, `bucket not found: ${loc.bucket}`, { cause: err });
    return new AppError(ErrorKind.NotFound, `not found: ${what}`, { cause: err });
  }
  if (ACCESS_CODES.has(code) || status === 403 || status === 401) {
    const hint =
      code === 'SignatureDoesNotMatch'
        ? 'wrong secret access key'
        : code === 'InvalidAccessKeyId'
          ? 'unknown access key id'
          : code === 'ExpiredToken' || code === 'InvalidToken'
            ? 'expired or invalid session token'
            : 'check credentials and permissions';
    return new AppError(ErrorKind.AccessDenied, `access denied to ${what} (${hint})`, { cause: err });
  }
  if (
    (status !== undefined && status >= 500) ||
    status === 429 ||
    THROTTLE_CODES.has(code) ||
    TIMEOUT_NAMES.has(e.name) ||
    (net !== undefined && NET_CODES.has(net))
  ) {
    const detail = status ? `HTTP ${status} ${code}` : (net ?? code);
    return new AppError(ErrorKind.Transient, `S3 endpoint ${endpoint} failed on ${what}: ${detail}`, {
      cause: err,
    });
  }
  if (e.name === 'CredentialsProviderError') {
    return new AppError(ErrorKind.AccessDenied, `no S3 credentials for ${what}: ${e.message}`, {
      cause: err,
    });
  }
  if (status !== undefined && status >= 400) {
    const kind =
      code === 'InvalidBucketName' || code === 'KeyTooLongError'
        ? ErrorKind.InvalidInput
        : ErrorKind.Permanent;
    return new AppError(kind, `S3 refused ${what}: HTTP ${status} ${code}`, { cause: err });
  }
  // Local side (ENOENT on the source file, EACCES on the destination, ...) or unknown.
  return AppError.from(err);
}

/** A cache key for a client: endpoint, region and a hash of the credentials (no secret kept in clear). */
function clientKey(loc: S3Location): string {
  const c = loc.credentials;
  const h = createHash('sha256');
  h.update(JSON.stringify([c?.accessKeyId ?? '', c?.secretAccessKey ?? '', c?.sessionToken ?? '']));
  return `${c?.endpoint ?? ''}\n${c?.region || DEFAULT_REGION}\n${h.digest('hex')}`;
}

export class S3Backend implements StorageBackend {
  private readonly clients = new Map<string, S3Client>();
  private readonly maxAttempts: number;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly connectionTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(options: S3BackendOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.partSize = Math.max(options.partSize ?? 8 * MiB, 5 * MiB);
    this.queueSize = options.queueSize ?? 4;
    this.connectionTimeoutMs = options.connectionTimeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
  }

  /** The cached client for a location's endpoint, region and credentials. */
  client(loc: S3Location): S3Client {
    const key = clientKey(loc);
    let client = this.clients.get(key);
    if (client) return client;
    const c = loc.credentials;
    const config: S3ClientConfig = {
      region: c?.region || DEFAULT_REGION,
      maxAttempts: this.maxAttempts,
      retryMode: 'standard',
      requestHandler: { connectionTimeout: this.connectionTimeoutMs, requestTimeout: this.requestTimeoutMs },
    };
    if (c?.endpoint) {
      config.endpoint = c.endpoint;
      config.forcePathStyle = true;
      // Many S3-compatible services reject the SDK's default (since 2025) CRC checksums
      // and aws-chunked trailers; only send checksums where the API requires them.
      config.requestChecksumCalculation = 'WHEN_REQUIRED';
      config.responseChecksumValidation = 'WHEN_REQUIRED';
    }
    // Without keys in the location the SDK uses the default chain (env, profile, IMDS, ...).
    if (c?.accessKeyId && c.secretAccessKey) {
      config.credentials = {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
      };
    }
    client = new S3Client(config);
    this.clients.set(key, client);
    return client;
  }

  /** Closes every cached client's sockets. */
  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }

  async download(file: File, localPath: string, signal?: AbortSignal): Promise<void> {
    const { loc, key } = objectKey(file);
    const what = `s3://${loc.bucket}/${key}`;
    // Stream to a temp name next to the destination: a failed download leaves nothing behind.
    const tmp = `${localPath}.part-${process.pid}-${Math.random().toString(36).slice(2)}`;
    // The SDK retries the request itself; a body that breaks mid-stream is retried here.
    for (let attempt = 1; ; attempt++) {
      let inBody = false;
      try {
        const res = await this.client(loc).send(new GetObjectCommand({ Bucket: loc.bucket, Key: key }), {
          abortSignal: signal,
        });
        inBody = true;
        if (!res.Body) throw new AppError(ErrorKind.Transient, `empty response body for ${what}`);
        await pipeline(res.Body as Readable, createWriteStream(tmp), { signal });
        const got = (await fsStat(tmp)).size;
        if (res.ContentLength !== undefined && got !== res.ContentLength) {
          throw new AppError(
            ErrorKind.Transient,
            `truncated download of ${what}: ${got} of ${res.ContentLength} bytes`,
          );
        }
        await rename(tmp, localPath);
        return;
      } catch (err) {
        await rm(tmp, { force: true });
        const mapped = signal?.aborted
          ? new AppError(ErrorKind.Cancelled, 'cancelled', { cause: err })
          : mapS3Error(err, loc, what);
        if (!inBody || !mapped.transient || attempt >= this.maxAttempts) throw mapped;
        const delay = Math.min(5_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
        await sleep(delay, undefined, { signal }).catch((e: unknown) => {
          throw new AppError(ErrorKind.Cancelled, 'cancelled', { cause: e });
        });
      }
    }
  }

  async upload(localPath: string, folder: Folder, name: string, options: PutOptions = {}): Promise<File> {
    const loc = s3Loc(folder);
    if (!name || name.startsWith('/'))
      throw new AppError(ErrorKind.InvalidInput, `invalid object name: ${name}`);
    const prefix = loc.path.replace(/^\/+/, '').replace(/\/+$/, '');
    const key = prefix ? `${prefix}/${name}` : name;
    const what = `s3://${loc.bucket}/${key}`;
    const total = (
      await fsStat(localPath).catch((err: unknown) => {
        throw AppError.from(err);
      })
    ).size;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (options.signal?.aborted) throw new AppError(ErrorKind.Cancelled, 'cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const upload = new Upload({
        client: this.client(loc),
        params: {
          Bucket: loc.bucket,
          Key: key,
          Body: createReadStream(localPath),
          ...(options.contentType ? { ContentType: options.contentType } : {}),
        },
        partSize: this.partSize,
        queueSize: this.queueSize,
        leavePartsOnError: false,
        abortController: controller,
      });
      if (options.onProgress) {
        const cb = options.onProgress;
        upload.on('httpUploadProgress', (p) => cb(p.loaded ?? 0, p.total ?? total));
      }
      await upload.done();
    } catch (err) {
      if (options.signal?.aborted) throw new AppError(ErrorKind.Cancelled, 'cancelled', { cause: err });
      throw mapS3Error(err, loc, what);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    return create(FileSchema, { location: { case: 's3', value: { ...loc, path: key } } });
  }

  async stat(file: File): Promise<{ size: number }> {
    const { loc, key } = objectKey(file);
    try {
      const res = await this.client(loc).send(new HeadObjectCommand({ Bucket: loc.bucket, Key: key }));
      return { size: res.ContentLength ?? 0 };
    } catch (err) {
      const what = `s3://${loc.bucket}/${key}`;
      const mapped = mapS3Error(err, loc, what);
      if (mapped.kind === ErrorKind.NotFound) {
        // A 404 to HEAD has no body either: ask whether the bucket itself is missing.
        const bucketGone = await this.client(loc)
          .send(new HeadBucketCommand({ Bucket: loc.bucket }))
          .then(
            () => false,
            (e) => mapS3Error(e, loc, `bucket ${loc.bucket}`).kind === ErrorKind.NotFound,
          );
        if (bucketGone)
          throw new AppError(ErrorKind.NotFound, `bucket not found: ${loc.bucket}`, { cause: err });
      }
      if (mapped.kind !== ErrorKind.AccessDenied) throw mapped;
      // A HEAD answer has no body, so a 403 cannot say why (wrong secret? unknown key id?).
      // A one-byte GET gets the same refusal with its error code, for a message that helps.
      try {
        await this.client(loc).send(
          new GetObjectCommand({ Bucket: loc.bucket, Key: key, Range: 'bytes=0-0' }),
        );
      } catch (getErr) {
        const detailed = mapS3Error(getErr, loc, what);
        if (detailed.kind === ErrorKind.AccessDenied) throw detailed;
      }
      throw mapped;
    }
  }

  async exists(file: File): Promise<boolean> {
    try {
      await this.stat(file);
      return true;
    } catch (err) {
      if (err instanceof AppError && err.kind === ErrorKind.NotFound) return false;
      throw err;
    }
  }

  async ensureWritable(folder: Folder): Promise<void> {
    const loc = s3Loc(folder);
    try {
      await this.client(loc).send(new HeadBucketCommand({ Bucket: loc.bucket }));
    } catch (err) {
      const mapped = mapS3Error(err, loc, `bucket ${loc.bucket}`);
      if (mapped.kind === ErrorKind.NotFound) {
        throw new AppError(ErrorKind.NotFound, `bucket not found: ${loc.bucket}`, { cause: err });
      }
      if (mapped.kind === ErrorKind.AccessDenied) {
        throw new AppError(
          ErrorKind.AccessDenied,
          `access denied to bucket ${loc.bucket} (check credentials)`,
          {
            cause: err,
          },
        );
      }
      throw mapped;
    }
  }

  async remove(file: File): Promise<void> {
    const { loc, key } = objectKey(file);
    try {
      await this.client(loc).send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: key }));
    } catch (err) {
      const mapped = mapS3Error(err, loc, `s3://${loc.bucket}/${key}`);
      if (mapped.kind !== ErrorKind.NotFound) throw mapped;
    }
  }

  /**
   * None: an object appears only when its PUT (or multipart upload) completes. A
   * multipart upload cut off by a killed worker leaves invisible parts, which
   * the bucket's AbortIncompleteMultipartUpload lifecycle rule removes.
   */
  async removeTemporaries(_folder: Folder): Promise<string[]> {
    return [];
  }

  async openLocal(_file: File): Promise<undefined> {
    return undefined;
  }

  localPath(_file: File): string | undefined {
    return undefined;
  }
}
