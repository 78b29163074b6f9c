// The plain HTTP(S) URL of a stored S3 object, without node modules: the CLI prints it
// and the web console (console/src/format.ts) plays from it.
import type { File } from '../gen/avspl1t/v1/storage_pb.js';

/**
 * The plain HTTP(S) URL of a stored S3 object (what a player fetches when the bucket is public or
 * fronted by a CDN): path-style on a configured endpoint, else AWS's virtual-hosted style.
 * Undefined for filesystem files.
 */
export function httpUrl(file: File | undefined): string | undefined {
  const l = file?.location;
  if (l?.case !== 's3') return undefined;
  const key = l.value.path
    .replace(/^\/+/, '')
    .split('/')
    .map((part) => encodeURIComponent(part))
    .join('/');
  const c = l.value.credentials;
  if (c?.endpoint) {
    // Rebuilt from its parts so user info in a hand-written endpoint never reaches the output.
    let base: string;
    try {
      const u = new URL(c.endpoint);
      base = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
    } catch {
      return undefined;
    }
    return `${base}/${encodeURIComponent(l.value.bucket)}/${key}`;
  }
  const region = c?.region || 'us-east-1';
  return `https://${l.value.bucket}.s3.${region}.amazonaws.com/${key}`;
}
