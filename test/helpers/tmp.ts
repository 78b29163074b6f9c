/**
 * Temporary directories and free loopback ports for integration tests.
 * Every helper that starts a server or writes files builds on these two.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary directory and the function that deletes it. */
export interface TmpDir {
  /** Absolute path of the new, empty directory. */
  path: string;
  /** Deletes the directory and everything in it; safe to call twice. */
  cleanup: () => Promise<void>;
}

/** Creates a fresh directory under the OS temp dir whose name starts with `prefix`. */
export async function tmpDir(prefix = 'avspl1t-test-'): Promise<TmpDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    cleanup: () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
  };
}

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago.
 * Only for programs that must be told a port (PostgreSQL); servers we own listen on port 0 instead.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: no TCP address'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
