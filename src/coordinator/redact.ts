// Removes secrets from messages before they leave the coordinator: every
// S3Credentials anywhere in the message loses its secret key and session token.
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
    return;
  }
  for (const child of Object.values(record)) scrub(child, seen);
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
