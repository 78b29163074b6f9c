// S3 settings for the commands that take locations: endpoint, region and
// credentials from flags, then the environment, then a config file (zod-checked),
// and whether the credentials travel with the job to the workers.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { AppError, ErrorKind, invalidInput } from '../errors.js';
import type { S3Defaults } from '../storage/location.js';

/** Raw S3 flags as commander gives them. */
export interface S3Flags {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  config?: string;
  forwardCredentials?: boolean;
}

/** What the command uses itself (`local`) and what goes into the job's locations (`job`). */
export interface S3Settings {
  /** Everything known, credentials included: for the CLI's own requests (`submit --upload`). */
  local: S3Defaults;
  /** What workers receive: endpoint and region always, keys only when forwarded. */
  job: S3Defaults;
  /** Whether `job` carries the keys. */
  forwarded: boolean;
}

const endpointSchema = z
  .string()
  .url('endpoint must be a URL such as http://127.0.0.1:9000')
  .refine((u) => /^https?:$/.test(new URL(u).protocol), 'endpoint must be an http:// or https:// URL')
  .refine((u) => {
    const url = new URL(u);
    return !url.username && !url.password;
  }, 'endpoint must not contain credentials');

/** `~/.config/avspl1t/config.json` (or `$XDG_CONFIG_HOME/avspl1t/config.json`). */
const configSchema = z
  .object({
    s3: z
      .object({
        endpoint: endpointSchema.optional(),
        region: z.string().min(1).optional(),
        accessKeyId: z.string().min(1).optional(),
        secretAccessKey: z.string().min(1).optional(),
        sessionToken: z.string().min(1).optional(),
        forwardCredentials: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

type ConfigFile = z.output<typeof configSchema>;

/** The default config file path. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'avspl1t', 'config.json');
}

/** Reads and checks a config file; a missing default file is an empty config. */
export async function readConfig(file: string | undefined, env: NodeJS.ProcessEnv): Promise<ConfigFile> {
  const p = file ?? env.AVSPL1T_CONFIG ?? defaultConfigPath(env);
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file === undefined && !env.AVSPL1T_CONFIG)
      return {};
    throw new AppError(ErrorKind.InvalidInput, `cannot read config file ${p}: ${AppError.from(err).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalidInput(`config file ${p} is not valid JSON`);
  }
  const r = configSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    // Name the field, never echo the value (it may be a secret).
    throw invalidInput(
      `config file ${p}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return r.data;
}

/** Adds the S3 flags to a command that takes locations. */
export function s3Flags(cmd: Command): Command {
  return cmd
    .option(
      '--endpoint <url>',
      'S3-compatible endpoint (path-style), e.g. http://127.0.0.1:9000 [env AVSPL1T_S3_ENDPOINT, AWS_ENDPOINT_URL]',
    )
    .option('--region <name>', 'S3 region [env AWS_REGION, default us-east-1]')
    .option('--access-key-id <id>', 'S3 access key id [env AWS_ACCESS_KEY_ID]')
    .option(
      '--secret-access-key <secret>',
      'S3 secret (discouraged: visible in the process list; prefer the environment or the config file)',
    )
    .option('--config <file>', 'config file with an "s3" section (default ~/.config/avspl1t/config.json)')
    .option(
      '--forward-credentials',
      'put the S3 keys into the job so workers use them (default when the keys come from flags or the config file)',
    )
    .option(
      '--no-forward-credentials',
      'keep the keys out of the job: workers use their own AWS credential chain',
    );
}

/**
 * Resolves S3 settings: flags, then environment, then config file. Keys are forwarded to workers when
 * `--forward-credentials` says so, else when they came from a flag or the config file (keys from the
 * environment are the standard AWS chain, which workers have their own of).
 */
export async function resolveS3(flags: S3Flags, env: NodeJS.ProcessEnv = process.env): Promise<S3Settings> {
  const config = (await readConfig(flags.config, env)).s3 ?? {};
  const endpointRaw = flags.endpoint ?? (env.AVSPL1T_S3_ENDPOINT || env.AWS_ENDPOINT_URL || config.endpoint);
  let endpoint: string | undefined;
  if (endpointRaw) {
    const r = endpointSchema.safeParse(endpointRaw);
    if (!r.success) throw invalidInput(`--endpoint: ${r.error.issues[0]?.message ?? 'invalid'}`);
    endpoint = endpointRaw.replace(/\/+$/, '');
  }
  const region = flags.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || config.region);

  let keys: Pick<S3Defaults, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'> = {};
  let explicit = false;
  if (flags.accessKeyId || flags.secretAccessKey) {
    if (!flags.accessKeyId || !flags.secretAccessKey)
      throw invalidInput('--access-key-id and --secret-access-key must be given together');
    keys = { accessKeyId: flags.accessKeyId, secretAccessKey: flags.secretAccessKey };
    explicit = true;
  } else if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    keys = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  } else if (config.accessKeyId || config.secretAccessKey) {
    if (!config.accessKeyId || !config.secretAccessKey)
      throw invalidInput('config file: s3.accessKeyId and s3.secretAccessKey must be given together');
    keys = {
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
    };
    explicit = true;
  }
  const forwarded = (flags.forwardCredentials ?? config.forwardCredentials ?? explicit) && !!keys.accessKeyId;
  const place: S3Defaults = {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
  };
  return { local: { ...place, ...keys }, job: forwarded ? { ...place, ...keys } : place, forwarded };
}
