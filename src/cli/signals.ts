// Shutdown on SIGTERM/SIGINT for long-running commands: the first signal asks
// for a graceful stop, a second one for an immediate one.

/** Calls `stop(false)` on the first SIGTERM/SIGINT and `stop(true)` on the next; returns an uninstaller. */
export function onShutdownSignals(stop: (urgent: boolean, signal: NodeJS.Signals) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    stop(count > 1, signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
