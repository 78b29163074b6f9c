// One error type for the whole system: a kind that decides retries and the gRPC
// status, a message a user can act on, and the underlying cause.

export const ErrorKind = {
  /** The request or job is malformed: refuse it, never retry. */
  InvalidInput: 'invalid_input',
  /** The input or a stored object does not exist. */
  NotFound: 'not_found',
  /** Credentials or permissions refuse the operation. */
  AccessDenied: 'access_denied',
  /** A retry may succeed: worker died, storage 5xx, timeouts, ffmpeg killed by a signal. */
  Transient: 'transient',
  /** Retrying cannot help: the input is not a video, unsupported stream, ... */
  Permanent: 'permanent',
  /** The work was cancelled (job cancelled, lease lost, shutdown). */
  Cancelled: 'cancelled',
  /** The caller did not authenticate. */
  Unauthenticated: 'unauthenticated',
  /** A bug or an unexpected state. */
  Internal: 'internal',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Error with a kind; `from` turns anything thrown into one. */
export class AppError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.kind = kind;
  }

  /** Whether a retry of the same work may succeed. */
  get transient(): boolean {
    return this.kind === ErrorKind.Transient;
  }

  /** Wraps any thrown value; AppErrors pass through unchanged. */
  static from(err: unknown, fallback: ErrorKind = ErrorKind.Internal): AppError {
    if (err instanceof AppError) return err;
    if (err instanceof Error) {
      if (err.name === 'AbortError') return new AppError(ErrorKind.Cancelled, 'cancelled', { cause: err });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return new AppError(ErrorKind.NotFound, err.message, { cause: err });
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
        return new AppError(ErrorKind.AccessDenied, err.message, { cause: err });
      if (code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'ECONNREFUSED' || code === 'EPIPE')
        return new AppError(ErrorKind.Transient, err.message, { cause: err });
      return new AppError(fallback, err.message, { cause: err });
    }
    return new AppError(fallback, String(err));
  }
}

/** Shorthand constructors. */
export const invalidInput = (message: string) => new AppError(ErrorKind.InvalidInput, message);
export const permanent = (message: string, cause?: unknown) =>
  new AppError(ErrorKind.Permanent, message, { cause });
export const transient = (message: string, cause?: unknown) =>
  new AppError(ErrorKind.Transient, message, { cause });
export const notFound = (message: string, cause?: unknown) =>
  new AppError(ErrorKind.NotFound, message, { cause });

/** The message of any thrown value, for logs and failure reasons. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
