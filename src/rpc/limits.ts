// The largest request the coordinator reads, shared by the Connect handler
// (connect-es's `readMaxBytes`) and the lean gRPC path (checked on the frame's
// length prefix before buffering).
import { Code, ConnectError } from '@connectrpc/connect';

/** Default largest request message: room for a long source's split (its frame timestamps). */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/** RESOURCE_EXHAUSTED for a request of `length` bytes over `max`. */
export function requestTooLarge(length: number, max: number): ConnectError {
  return new ConnectError(
    `request of ${length} bytes exceeds the limit of ${max} bytes`,
    Code.ResourceExhausted,
  );
}
