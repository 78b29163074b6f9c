// Which PostgreSQL errors are worth running a transaction again for: lost
// serialization races and deadlocks (run again at once), and an unreachable
// server (run again briefly, then answer Transient).

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** serialization_failure, deadlock_detected, lock_not_available. */
const RETRYABLE = new Set(['40001', '40P01', '55P03']);

/** Whether a transaction that failed with `err` may succeed if run again now. */
export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has(errorCode(err));
}

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

/** Whether `err` means the server cannot be reached right now (down, restarting, cut off). */
export function isUnavailable(err: unknown): boolean {
  const code = errorCode(err);
  return (
    // connection_exception class, admin_shutdown, cannot_connect_now
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P03' ||
    NETWORK.has(code) ||
    // pg's own: a connection lost or refused, or no pooled connection free for connectionTimeoutMillis.
    /Connection terminated|connection timeout|not queryable|timeout exceeded when trying to connect/i.test(
      (err as Error | null)?.message ?? '',
    )
  );
}
