// Locations as users type them (CLI): `s3://bucket/key` or a filesystem path,
// and the redaction of credentials before a location leaves the system.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import {
  type File,
  FileSchema,
  type Folder,
  FolderSchema,
  FsLocationSchema,
  S3CredentialsSchema,
  S3LocationSchema,
} from '../gen/avspl1t/v1/storage_pb.js';

/** Defaults applied to `s3://` URLs (from CLI flags, environment or config). */
export interface S3Defaults {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

/** The `location` oneof shared by File and Folder. */
export type Location = File['location'];

/**
 * Parses `s3://bucket/key` (credentials, endpoint and region from `defaults`; none means the
 * default AWS credential chain) or a filesystem path / `file://` URL (resolved to an absolute path).
 */
export function parseLocation(url: string, defaults: S3Defaults = {}): Location {
  if (!url) throw new AppError(ErrorKind.InvalidInput, 'empty location');
  if (url.includes('\0')) throw new AppError(ErrorKind.InvalidInput, 'location contains a NUL byte');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? '' : rest.slice(slash + 1);
    if (!bucket) throw new AppError(ErrorKind.InvalidInput, `S3 URL has no bucket: ${url}`);
    // Never echo the URL here: it may be `s3://key:secret@bucket/...`.
    if (bucket.includes('@') || bucket.includes(':')) {
      throw new AppError(
        ErrorKind.InvalidInput,
        'S3 URL must not contain credentials or a port; use --endpoint and credential flags',
      );
    }
    if (!/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(bucket)) {
      throw new AppError(ErrorKind.InvalidInput, `invalid S3 bucket name: ${bucket}`);
    }
    const d = defaults;
    const hasCreds = d.endpoint || d.region || d.accessKeyId || d.secretAccessKey || d.sessionToken;
    if ((d.accessKeyId && !d.secretAccessKey) || (!d.accessKeyId && d.secretAccessKey)) {
      throw new AppError(
        ErrorKind.InvalidInput,
        'S3 access key id and secret access key must be given together',
      );
    }
    return {
      case: 's3',
      value: create(S3LocationSchema, {
        bucket,
        path: key,
        credentials: hasCreds
          ? create(S3CredentialsSchema, {
              endpoint: d.endpoint ?? '',
              region: d.region ?? '',
              accessKeyId: d.accessKeyId ?? '',
              secretAccessKey: d.secretAccessKey ?? '',
              sessionToken: d.sessionToken ?? '',
            })
          : undefined,
      }),
    };
  }
  let p: string;
  if (scheme === 'file') {
    try {
      p = fileURLToPath(url);
    } catch {
      throw new AppError(ErrorKind.InvalidInput, `invalid file URL: ${url}`);
    }
  } else if (scheme) {
    throw new AppError(
      ErrorKind.InvalidInput,
      `unsupported location scheme "${scheme}://" (use a path or s3://bucket/key)`,
    );
  } else {
    p = url;
  }
  return { case: 'fs', value: create(FsLocationSchema, { path: path.resolve(p) }) };
}

/** A File from a path or `s3://bucket/key` URL. */
export function parseFile(url: string, defaults?: S3Defaults): File {
  const location = parseLocation(url, defaults);
  if (location.case === 's3' && !location.value.path) {
    throw new AppError(
      ErrorKind.InvalidInput,
      `S3 URL names a bucket, not an object: s3://${location.value.bucket}/`,
    );
  }
  return create(FileSchema, { location });
}

/** A Folder from a path or `s3://bucket/prefix` URL (trailing slashes are dropped). */
export function parseFolder(url: string, defaults?: S3Defaults): Folder {
  const location = parseLocation(url, defaults);
  if (location.case === 's3') location.value.path = location.value.path.replace(/\/+$/, '');
  return create(FolderSchema, { location });
}

/**
 * A copy of a File/Folder without secrets: the access key id, secret and session token are
 * dropped; endpoint and region stay (they are needed to build URLs and are not secret).
 */
export function redactLocation<T extends File | Folder>(loc: T): T;
export function redactLocation<T extends File | Folder>(loc: T | undefined): T | undefined;
export function redactLocation<T extends File | Folder>(loc: T | undefined): T | undefined {
  if (!loc) return loc;
  const l = loc.location;
  if (l.case !== 's3')
    return { ...loc, location: l.case === 'fs' ? { case: 'fs', value: { ...l.value } } : l };
  const c = l.value.credentials;
  const keep =
    c && (c.endpoint || c.region)
      ? create(S3CredentialsSchema, { endpoint: c.endpoint, region: c.region })
      : undefined;
  return { ...loc, location: { case: 's3', value: { ...l.value, credentials: keep } } };
}
