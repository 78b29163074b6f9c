// Command-line values parsed once with zod, with errors that name the flag the
// user typed (`--crf must be an integer, got "x"`), and the encoder settings and
// coordinator address every command shares.
import os from 'node:os';
import { z } from 'zod';
import { invalidInput } from '../errors.js';
import type { EncoderSettings } from '../gen/avspl1t/v1/media_pb.js';
import type { LogFormat, LogLevel } from '../log.js';
import { isAv1, normalizeSettings, settingsProblem } from '../media/settings.js';
import { MIN_SECONDS_PER_SEGMENT } from '../media/split.js';
import { parseHostPort } from '../rpc/address.js';

/** A numeric flag: a number (or integer) within bounds, else an InvalidInput naming `--flag`. */
function numberFlag(flag: string, o: { integer?: boolean; min?: number; max?: number } = {}) {
  return z.string().transform((raw, ctx) => {
    const n = Number(raw);
    const kind = o.integer ? 'an integer' : 'a number';
    let problem: string | undefined;
    if (raw.trim() === '' || !Number.isFinite(n) || (o.integer && !Number.isInteger(n)))
      problem = `--${flag} must be ${kind}, got "${raw}"`;
    else if (o.min !== undefined && n < o.min) problem = `--${flag} must be at least ${o.min}, got ${n}`;
    else if (o.max !== undefined && n > o.max) problem = `--${flag} must be at most ${o.max}, got ${n}`;
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return n;
  });
}

/** Parses `value` with `schema`; the first problem becomes an InvalidInput error. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw invalidInput(r.error.issues[0]?.message ?? 'invalid arguments');
  return r.data;
}

export const secondsPerSegmentFlag = numberFlag('seconds-per-segment', {
  min: MIN_SECONDS_PER_SEGMENT,
  max: 600,
});
export const positiveIntFlag = (flag: string) => numberFlag(flag, { integer: true, min: 1 });
/** An integer flag from 1 to `max`. */
export const boundedIntFlag = (flag: string, max: number) => numberFlag(flag, { integer: true, min: 1, max });

/** A `host:port` flag (URLs allowed where `urls`). */
const address = (flag: string, urls = false) =>
  z.string().transform((raw, ctx) => {
    if (urls && /^https?:\/\//i.test(raw)) return raw;
    try {
      parseHostPort(raw);
      return raw;
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `--${flag}: expected host:port (e.g. 127.0.0.1:50051), got "${raw}"`,
      });
      return z.NEVER;
    }
  });
export const coordinatorFlag = address('coordinator', true);
export const listenFlag = address('listen');
export const httpListenFlag = address('http-listen');
export const metricsListenFlag = address('metrics-listen');

export const logLevelFlag = z.enum(['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'], {
  error: (issue) =>
    `--log-level must be one of silent, error, warn, info, debug, got "${String(issue.input)}"`,
}) as z.ZodType<LogLevel>;

export const logFormatFlag = z
  .enum(['json', 'pretty'], {
    error: (issue) => `--log-format must be json or pretty, got "${String(issue.input)}"`,
  })
  .optional() as z.ZodType<LogFormat | undefined>;

/** Raw encoder flags as commander gives them. */
export interface EncoderFlags {
  secondsPerSegment: string;
  crf: string;
  preset?: string;
  encoder: string;
}

/** Checked seconds per segment and encoder settings from the flags. */
export function encoderOptions(flags: EncoderFlags): {
  secondsPerSegment: number;
  settings: EncoderSettings;
} {
  const parsed = parseWith(
    z.object({
      secondsPerSegment: secondsPerSegmentFlag,
      crf: numberFlag('crf', { integer: true }),
      preset: numberFlag('preset', { integer: true }).optional(),
      encoder: z.string(),
    }),
    flags,
  );
  const settings = normalizeSettings({ encoder: parsed.encoder, crf: parsed.crf, preset: parsed.preset });
  // --encoder names the AV1 encoder; H.264 rungs come from --ladder / --rendition.
  const problem = isAv1(settings.encoder)
    ? settingsProblem(settings)
    : `settings.encoder: unknown encoder "${settings.encoder}" (the AV1 encoder: svt, aom or rav1e; H.264 rungs: --rendition h264:...)`;
  if (problem) throw invalidInput(problem.replace(/^settings\./, '--'));
  return { secondsPerSegment: parsed.secondsPerSegment, settings };
}

/** The coordinator address: the flag, else AVSPL1T_COORDINATOR, else 127.0.0.1:50051. */
export function defaultCoordinator(): string {
  return process.env.AVSPL1T_COORDINATOR || '127.0.0.1:50051';
}

/** Default number of local workers: one per core. */
export function defaultParallelism(): number {
  return os.availableParallelism();
}
