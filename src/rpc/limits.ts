// The largest request the coordinator reads: connect-es's `readMaxBytes`, and
// the limit the Connect handler reads a protobuf body under.
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
