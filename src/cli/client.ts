// Runs a client command against a coordinator: connects, calls, always closes,
// and turns "cannot connect" into a message that says where it tried.
import { readFileSync } from 'node:fs';
import { AppError, ErrorKind } from '../errors.js';
import { type ClientOptions, type CoordinatorClient, connectCoordinator } from '../rpc/client.js';
import { fromRpcError } from '../rpc/errors.js';

// One command per process: its --token/--tls-ca flags are set once before the
// action runs (a commander preAction hook) and used by every call it makes.
let security: ClientOptions = {};

/** Sets the token (flag, else AVSPL1T_TOKEN) and TLS CA (flag, else AVSPL1T_TLS_CA) of client calls. */
export function setClientSecurity(flags: { token?: string; tlsCa?: string; tls?: boolean }): void {
  const token = flags.token || process.env.AVSPL1T_TOKEN || undefined;
  const caFile = flags.tlsCa || process.env.AVSPL1T_TLS_CA || undefined;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new AppError(
        ErrorKind.InvalidInput,
        `--tls-ca: cannot read ${caFile}: ${AppError.from(err).message}`,
      );
    }
  }
  security = { token, tls: ca || flags.tls ? { ca } : undefined };
}

/** Calls `fn` with a client for `address`; RPC errors come back as AppErrors. */
export async function withClient<T>(
  address: string,
  fn: (client: CoordinatorClient) => Promise<T>,
): Promise<T> {
  const handle = connectCoordinator(address, security);
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
