// The one place where error kinds meet gRPC status codes, in both directions:
// servers throw ConnectErrors made from AppErrors, clients turn ConnectErrors
// back into AppErrors (so retry decisions use the same kinds everywhere).
import { Code, ConnectError } from '@connectrpc/connect';
import { AppError, ErrorKind } from '../errors.js';

const TO_CODE: Record<ErrorKind, Code> = {
  [ErrorKind.InvalidInput]: Code.InvalidArgument,
  [ErrorKind.NotFound]: Code.NotFound,
  [ErrorKind.AccessDenied]: Code.PermissionDenied,
  [ErrorKind.Transient]: Code.Unavailable,
  [ErrorKind.Permanent]: Code.FailedPrecondition,
  [ErrorKind.Cancelled]: Code.Canceled,
  [ErrorKind.Unauthenticated]: Code.Unauthenticated,
  [ErrorKind.Internal]: Code.Internal,
};

const FROM_CODE: Partial<Record<Code, ErrorKind>> = {
  [Code.InvalidArgument]: ErrorKind.InvalidInput,
  [Code.OutOfRange]: ErrorKind.InvalidInput,
  [Code.NotFound]: ErrorKind.NotFound,
  [Code.PermissionDenied]: ErrorKind.AccessDenied,
  [Code.Unavailable]: ErrorKind.Transient,
  [Code.DeadlineExceeded]: ErrorKind.Transient,
  [Code.ResourceExhausted]: ErrorKind.Transient,
  [Code.Aborted]: ErrorKind.Transient,
  [Code.FailedPrecondition]: ErrorKind.Permanent,
  [Code.Canceled]: ErrorKind.Cancelled,
  [Code.Unauthenticated]: ErrorKind.Unauthenticated,
};

/** The gRPC status code for an error kind. */
export function codeOf(kind: ErrorKind): Code {
  return TO_CODE[kind];
}

/** Turns anything thrown by a handler into a ConnectError with the matching code. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const app = AppError.from(err);
  return new ConnectError(app.message, codeOf(app.kind), undefined, undefined, app);
}

/** Turns anything thrown by a client call into an AppError (network failures are Transient). */
export function fromRpcError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ConnectError) {
    const kind = FROM_CODE[err.code] ?? ErrorKind.Internal;
    return new AppError(kind, err.rawMessage, { cause: err });
  }
  return AppError.from(err, ErrorKind.Transient);
}
