// The rendition ladder: the default ladder derived from the source, each rung's
// output size (never upscaled, always even), its name, and the checks a ladder
// must pass. Pure functions: the coordinator resolves a job's ladder once, after
// the split has measured the source.
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import {
  type EncoderSettings,
  EncoderSettingsSchema,
  type Rendition,
  RenditionSchema,
} from '../gen/avspl1t/v1/media_pb.js';
import { ENCODERS, type EncoderName, isAv1, normalizeSettings, settingsProblem } from './settings.js';

/** Heights of the default ladder's AV1 rungs below the top one (the top is the source's height, at most 1080). */
export const AV1_HEIGHTS = [1080, 720, 480, 360, 240, 144] as const;
/** Rungs of each codec in the default ladder. */
export const DEFAULT_AV1_RUNGS = 4;
/** The H.264 rungs' top height: the source's, at most this. */
export const H264_TOP_HEIGHT = 720;
/** x264's CRF for the default ladder's H.264 rungs. */
export const DEFAULT_H264_CRF = 23;
/** Bits per pixel per frame a rung may spend at most (the cap of capped CRF), per codec. */
export const CAP_BITS_PER_PIXEL = { av1: 0.06, h264: 0.1 } as const;
/** Most rungs a ladder may have. */
export const MAX_RUNGS = 16;
/** Largest width or height of a rung (AV1's and H.264's level tables end well below). */
export const MAX_DIMENSION = 16384;
/** Highest bit rate cap accepted, kbit/s. */
export const MAX_BITRATE_KBPS = 1_000_000;

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface SourceSize {
  width: number;
  height: number;
  /** Frames per second. */
  fps: number;
}

/** "av1" or "h264": the codec family of an encoder. */
export function codecOf(encoder: string): 'av1' | 'h264' {
  return isAv1(encoder) ? 'av1' : 'h264';
}

/** Rounds down to an even number, at least 2 (4:2:0 needs even sizes). */
function even(n: number): number {
  return Math.max(2, 2 * Math.floor(n / 2));
}

/**
 * The output size of a rung: its height (or the source's), its width from the
 * source's aspect ratio when unset (the nearest even number, at most the
 * source's); given sizes are rounded down to even.
 */
export function rungSize(
  source: SourceSize,
  r: Pick<Rendition, 'width' | 'height'>,
): { width: number; height: number } {
  const height = even(r.height || source.height);
  if (r.width) return { width: even(r.width), height };
  const width = Math.max(
    2,
    Math.min(2 * Math.round((height * source.width) / source.height / 2), even(source.width)),
  );
  return { width, height };
}

/** The default name of a rung: codec and height ("av1-720p"). */
export function rungName(encoder: string, height: number): string {
  return `${codecOf(encoder)}-${height}p`;
}

/** The bit rate cap of the default ladder for a rung of this codec and size, kbit/s. */
export function defaultCapKbps(encoder: string, width: number, height: number, fps: number): number {
  const rate = Math.min(60, Math.max(1, fps));
  return Math.ceil((width * height * rate * CAP_BITS_PER_PIXEL[codecOf(encoder)]) / 1000);
}

/** An x264 preset as fast, relative to its range, as the AV1 preset is to the AV1 encoder's. */
function matchingX264Preset(av1: EncoderSettings): number {
  const spec = ENCODERS[av1.encoder as EncoderName] ?? ENCODERS.svt;
  const speed = (av1.preset - spec.preset[0]) / (spec.preset[1] - spec.preset[0]);
  return Math.round((1 - speed) * ENCODERS.x264.preset[1]);
}

/**
 * The default ladder for a source: AV1 (the job's encoder and settings) at the
 * source's height capped at 1080 and the standard heights below it, four rungs
 * at most; H.264 High (CRF 23, a preset as fast as the AV1 one) at the source's
 * height capped at 720 and half that. Every rung is capped at a bit rate
 * proportional to its pixels per second (CAP_BITS_PER_PIXEL). Best first.
 * `shown` is the size a viewer sees (SourceInfo's); a portrait one gets the
 * landscape ladder turned, named by its short side.
 */
export function defaultLadder(shown: SourceSize, av1: EncoderSettings): Rendition[] {
  // A portrait source (a phone's, turned by its display matrix) gets the ladder of the
  // same video held landscape, each rung turned back: 1080x1920 is the 1080p rung.
  const portrait = shown.height > shown.width;
  const source = portrait ? { ...shown, width: shown.height, height: shown.width } : shown;
  const top = Math.min(source.height, AV1_HEIGHTS[0]);
  const av1Heights = [top, ...AV1_HEIGHTS.filter((h) => h < top)].slice(0, DEFAULT_AV1_RUNGS);
  const h264Top = Math.min(source.height, H264_TOP_HEIGHT);
  const h264Heights = [h264Top, Math.floor(h264Top / 2)];
  const x264 = create(EncoderSettingsSchema, {
    encoder: 'x264',
    crf: DEFAULT_H264_CRF,
    preset: matchingX264Preset(av1),
  });
  const rung = (settings: EncoderSettings, h: number) => {
    const size = rungSize(source, { width: 0, height: h });
    const { width, height } = portrait ? { width: size.height, height: size.width } : size;
    return create(RenditionSchema, {
      name: rungName(settings.encoder, size.height),
      settings,
      width,
      height,
      maxBitrateKbps: defaultCapKbps(settings.encoder, width, height, source.fps),
    });
  };
  const ladder = [...av1Heights.map((h) => rung(av1, h)), ...h264Heights.map((h) => rung(x264, h))];
  // A tiny source: rounding to even can make two rungs of a codec the same size.
  return ladder.filter((r, i) => ladder.findIndex((o) => o.name === r.name) === i);
}

/** How a message names rung `i`: "rendition 2 (h264-360p)". */
function label(r: Rendition, i: number): string {
  const name = r.name || (r.height ? rungName(r.settings?.encoder || 'svt', r.height) : '');
  return name ? `rendition ${i} (${name})` : `rendition ${i}`;
}

/**
 * Checks a ladder a client listed (before the source is known), fills in each
 * rung's encoder defaults; throws InvalidInput naming the rung: unknown encoder,
 * settings out of range, no or a too high bit rate cap, a bad name or size,
 * duplicate rungs.
 */
export function checkLadder(renditions: readonly Rendition[], field = 'job.renditions'): Rendition[] {
  if (renditions.length > MAX_RUNGS)
    throw new AppError(
      ErrorKind.InvalidInput,
      `${field}: at most ${MAX_RUNGS} rungs (got ${renditions.length})`,
    );
  const out = renditions.map((r, i) => {
    const at = `${field}[${i}]: ${label(r, i)}`;
    const fail = (problem: string) => new AppError(ErrorKind.InvalidInput, `${at}: ${problem}`);
    const encoder = r.settings?.encoder ?? '';
    if (encoder && !Object.hasOwn(ENCODERS, encoder))
      throw fail(
        `unknown codec "${encoder.slice(0, 32)}" (expected one of ${Object.keys(ENCODERS).join(', ')})`,
      );
    const settings = normalizeSettings({
      encoder,
      crf: r.settings?.crf || undefined,
      // 0 = the encoder's default (proto3 cannot tell an unset preset from 0).
      preset: r.settings?.preset || undefined,
    });
    if (!r.settings?.crf && settings.encoder === 'x264') settings.crf = DEFAULT_H264_CRF;
    const problem = settingsProblem(settings);
    if (problem) throw fail(problem);
    if (!(r.maxBitrateKbps > 0)) throw fail('max_bitrate_kbps must be above 0 (the cap of capped CRF)');
    if (r.maxBitrateKbps > MAX_BITRATE_KBPS)
      throw fail(`max_bitrate_kbps must be at most ${MAX_BITRATE_KBPS}`);
    if (r.width > MAX_DIMENSION || r.height > MAX_DIMENSION)
      throw fail(`width and height must be at most ${MAX_DIMENSION}`);
    if (r.name && !NAME.test(r.name))
      throw fail('name must be 1-64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit');
    return create(RenditionSchema, { ...r, settings });
  });
  duplicates(out, (r) => `${codecOf(r.settings!.encoder)} ${r.width}x${r.height}`, field, 'size');
  duplicates(
    out.filter((r) => r.name),
    (r) => r.name,
    field,
    'name',
  );
  return out;
}

/** Throws when two rungs share `key`, naming the second. */
function duplicates(ladder: Rendition[], key: (r: Rendition) => string, field: string, what: string): void {
  const seen = new Map<string, number>();
  ladder.forEach((r, i) => {
    const k = key(r);
    const first = seen.get(k);
    if (first !== undefined)
      throw new AppError(
        ErrorKind.InvalidInput,
        `${field}[${i}]: ${label(r, i)} duplicates rendition ${first} (same codec and ${what}: ${k})`,
      );
    seen.set(k, i);
  });
}

export interface LadderRequest {
  renditions: readonly Rendition[];
  /** "", "single" or "default" (EncodeJob.ladder). */
  ladder: string;
  settings?: EncoderSettings;
}

/**
 * The job's ladder for a measured source: the listed rungs with sizes and names
 * filled in, the default ladder, or the single rendition at the source's size.
 * Throws InvalidInput naming a rung larger than the source.
 */
export function resolveLadder(job: LadderRequest, source: SourceSize): Rendition[] {
  const settings = normalizeSettings(job.settings);
  if (job.renditions.length === 0) {
    if (job.ladder === 'default') return defaultLadder(source, settings);
    return [create(RenditionSchema, { name: '', settings, width: source.width, height: source.height })];
  }
  const ladder = checkLadder(job.renditions).map((r, i) => {
    if (r.width > source.width || r.height > source.height)
      throw new AppError(
        ErrorKind.InvalidInput,
        `job.renditions[${i}]: ${label(r, i)} asks for ${r.width || '(auto)'}x${r.height || '(auto)'}, larger than the source (${source.width}x${source.height}); rungs are never upscaled`,
      );
    const size = rungSize(source, r);
    if (size.width > source.width)
      throw new AppError(
        ErrorKind.InvalidInput,
        `job.renditions[${i}]: ${label(r, i)} would be ${size.width}x${size.height}, wider than the source (${source.width}x${source.height})`,
      );
    return create(RenditionSchema, {
      ...r,
      ...size,
      name: r.name || rungName(r.settings!.encoder, size.height),
    });
  });
  duplicates(
    ladder,
    (r) => `${codecOf(r.settings!.encoder)} ${r.width}x${r.height}`,
    'job.renditions',
    'size',
  );
  duplicates(ladder, (r) => r.name, 'job.renditions', 'name');
  return ladder;
}

/** Ladder values a client may send in EncodeJob.ladder. */
export const LADDERS = ['', 'single', 'default'] as const;
