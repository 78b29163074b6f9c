// Security flags of the long-running programs: tokens (flag, else environment),
// TLS files and allowed storage roots, read once into plain options.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AppError, ErrorKind, invalidInput } from '../errors.js';
import type { AuthConfig } from '../rpc/auth.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new AppError(
      ErrorKind.InvalidInput,
      `--${flag}: cannot read ${file}: ${AppError.from(err).message}`,
    );
  }
}

function roots(raw: string[] | undefined): string[] | undefined {
  if (!raw?.length) return undefined;
  return raw.map((r) => {
    if (!path.isAbsolute(r)) throw invalidInput(`--allowed-root must be an absolute path, got "${r}"`);
    return path.resolve(r);
  });
}

/** Adds --worker-token, --token, --tls-cert, --tls-key and --allowed-root to `coordinator`. */
export function coordinatorSecurityFlags(cmd: Command): Command {
  return cmd
    .option('--worker-token <token>', 'token workers must send (default: $AVSPL1T_WORKER_TOKEN)')
    .option(
      '--token <token>',
      'a client token (repeatable; default: $AVSPL1T_TOKEN, comma-separated)',
      collect,
    )
    .option('--tls-cert <pem>', 'serve TLS with this certificate chain (needs --tls-key)')
    .option('--tls-key <pem>', 'private key of --tls-cert')
    .option(
      '--allowed-root <dir>',
      'jobs may only use filesystem paths inside this dir (repeatable)',
      collect,
    );
}

/** The coordinator's auth, TLS and confinement from its flags and the environment. */
export function coordinatorSecurity(raw: {
  workerToken?: string;
  token?: string[];
  tlsCert?: string;
  tlsKey?: string;
  allowedRoot?: string[];
}): { auth: AuthConfig; tls?: { cert: Buffer; key: Buffer }; allowedRoots?: string[] } {
  const workerToken = raw.workerToken || process.env.AVSPL1T_WORKER_TOKEN || undefined;
  const clientTokens = raw.token?.length
    ? raw.token
    : (process.env.AVSPL1T_TOKEN ?? '').split(',').filter((t) => t.trim() !== '');
  if (!!raw.tlsCert !== !!raw.tlsKey) throw invalidInput('--tls-cert and --tls-key go together');
  const tls =
    raw.tlsCert && raw.tlsKey
      ? { cert: readPem('tls-cert', raw.tlsCert), key: readPem('tls-key', raw.tlsKey) }
      : undefined;
  return { auth: { workerToken, clientTokens }, tls, allowedRoots: roots(raw.allowedRoot) };
}

/** Adds --worker-token, --tls-ca and --allowed-root to `worker`. */
export function workerSecurityFlags(cmd: Command): Command {
  return cmd
    .option('--worker-token <token>', 'token sent to the coordinator (default: $AVSPL1T_WORKER_TOKEN)')
    .option('--tls-ca <pem>', 'connect with TLS, trusting this CA certificate')
    .option('--allowed-root <dir>', 'filesystem storage confined to this dir (repeatable)', collect);
}

/** The worker's token, TLS and confinement from its flags and the environment. */
export function workerSecurity(raw: { workerToken?: string; tlsCa?: string; allowedRoot?: string[] }): {
  token?: string;
  tls?: { ca?: Buffer };
  allowedRoots?: string[];
} {
  return {
    token: raw.workerToken || process.env.AVSPL1T_WORKER_TOKEN || undefined,
    tls: raw.tlsCa ? { ca: readPem('tls-ca', raw.tlsCa) } : undefined,
    allowedRoots: roots(raw.allowedRoot),
  };
}
