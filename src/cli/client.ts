// Runs a client command against a coordinator: connects, calls, always closes,
// and turns "cannot connect" into a message that says where it tried.
import { AppError, ErrorKind } from '../errors.js';
import { type CoordinatorClient, connectCoordinator } from '../rpc/client.js';
import { fromRpcError } from '../rpc/errors.js';

/** Calls `fn` with a client for `address`; RPC errors come back as AppErrors. */
export async function withClient<T>(
  address: string,
  fn: (client: CoordinatorClient) => Promise<T>,
): Promise<T> {
  const handle = connectCoordinator(address);
  try {
    return await fn(handle.client);
  } catch (err) {
    const e = fromRpcError(err);
    if (e.kind === ErrorKind.Transient)
      throw new AppError(ErrorKind.Transient, `cannot reach the coordinator at ${handle.url}: ${e.message}`, {
        cause: e,
      });
    throw e;
  } finally {
    handle.close();
  }
}
