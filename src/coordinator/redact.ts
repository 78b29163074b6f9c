// Removes secrets from messages before they leave the coordinator: every
// S3Credentials anywhere in the message loses its secret key, session token and
// any user info in its endpoint URL (refused at submit; older jobs may hold it).
import { clone, type DescMessage, type MessageShape } from '@bufbuild/protobuf';

const CREDENTIALS = 'avspl1t.v1.S3Credentials';

function scrub(value: unknown, seen: Set<object>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  if (value instanceof Uint8Array) return;
  seen.add(value);
  const record = value as Record<string, unknown>;
  if (record.$typeName === CREDENTIALS) {
    record.secretAccessKey = '';
    record.sessionToken = '';
    if (typeof record.endpoint === 'string') record.endpoint = withoutUserInfo(record.endpoint);
    return;
  }
  for (const child of Object.values(record)) scrub(child, seen);
}

/** `endpoint` without `user:password@`; an unparsable endpoint that may hold some is dropped. */
function withoutUserInfo(endpoint: string): string {
  if (!endpoint.includes('@')) return endpoint;
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return '';
  }
}

/** A copy of `message` with all storage secrets blanked. */
export function redacted<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): MessageShape<Desc> {
  const copy = clone(schema, message);
  scrub(copy, new Set());
  return copy;
}
