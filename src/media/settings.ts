// Encoder choice and parameter ranges, and the ffmpeg arguments for each encoder.
// Every segment of a job must be encoded with identical settings: the AV1
// sequence header (so the shared init segment) depends on them.
import { create } from '@bufbuild/protobuf';
import { type EncoderSettings, EncoderSettingsSchema } from '../gen/avspl1t/v1/media_pb.js';

export const ENCODERS = {
  svt: { codec: 'libsvtav1', crf: [0, 63], preset: [0, 13], defaultPreset: 8 },
  aom: { codec: 'libaom-av1', crf: [0, 63], preset: [0, 8], defaultPreset: 6 },
  rav1e: { codec: 'librav1e', crf: [0, 63], preset: [0, 10], defaultPreset: 8 },
  // H.264 for players without AV1: x264's CRF scale (0..51), presets by number.
  x264: { codec: 'libx264', crf: [0, 51], preset: [0, 9], defaultPreset: 5 },
} as const;
export type EncoderName = keyof typeof ENCODERS;

/** The AV1 encoders (every encoder but x264). */
export function isAv1(encoder: string): boolean {
  return encoder !== 'x264';
}

/** x264's presets, fastest first: EncoderSettings.preset indexes them. */
export const X264_PRESETS = [
  'ultrafast',
  'superfast',
  'veryfast',
  'faster',
  'fast',
  'medium',
  'slow',
  'slower',
  'veryslow',
  'placebo',
] as const;

export const DEFAULT_CRF = 30;

/** Fills defaults: svt, crf 30, the encoder's default preset. */
export function normalizeSettings(
  s: Partial<Pick<EncoderSettings, 'encoder' | 'crf' | 'preset'>> | undefined,
): EncoderSettings {
  const encoder = (s?.encoder || 'svt') as EncoderName;
  const spec = ENCODERS[encoder];
  return create(EncoderSettingsSchema, {
    encoder,
    crf: s?.crf ?? DEFAULT_CRF,
    preset: s?.preset ?? spec?.defaultPreset ?? 8,
  });
}

/** Returns a readable problem with the settings, or undefined when they are valid. */
export function settingsProblem(s: EncoderSettings): string | undefined {
  if (!Object.hasOwn(ENCODERS, s.encoder))
    return `settings.encoder: unknown encoder "${s.encoder}" (expected one of ${Object.keys(ENCODERS).join(', ')})`;
  const spec = ENCODERS[s.encoder as EncoderName];
  if (!Number.isInteger(s.crf) || s.crf < spec.crf[0] || s.crf > spec.crf[1])
    return `settings.crf: ${s.crf} is out of range for ${s.encoder} (${spec.crf[0]}..${spec.crf[1]})`;
  if (!Number.isInteger(s.preset) || s.preset < spec.preset[0] || s.preset > spec.preset[1])
    return `settings.preset: ${s.preset} is out of range for ${s.encoder} (${spec.preset[0]}..${spec.preset[1]})`;
  return undefined;
}

/**
 * ffmpeg output arguments selecting and configuring the encoder: one key frame at
 * the start, or one every `keyEvery` frames (fixed cadence). `threads` caps the encoder's threads when several encodes share a
 * machine; it changes speed, not the bitstream.
 */
export function encoderArgs(
  s: EncoderSettings,
  frameCount: number,
  threads?: number,
  keyEvery?: number,
  maxBitrateKbps = 0,
): string[] {
  const gop = String(keyEvery ?? Math.max(frameCount + 1, 2));
  const t = threads && threads > 0 ? Math.floor(threads) : undefined;
  // Capped CRF: quality from the CRF, the rate never above the cap over a one-second buffer
  // (each encode starts with a nearly full buffer: a longer one would let every run's first
  // segment overshoot by that much).
  const cap = maxBitrateKbps > 0 ? ['-maxrate', `${maxBitrateKbps}k`, '-bufsize', `${maxBitrateKbps}k`] : [];
  switch (s.encoder as EncoderName) {
    case 'x264':
      return [
        '-c:v',
        'libx264',
        '-profile:v',
        'high',
        '-crf',
        String(s.crf),
        '-preset',
        X264_PRESETS[s.preset] ?? 'medium',
        ...cap,
        // x264 starts a capped encode with its buffer 90 % full, so each run's first
        // segment may spend nearly twice the cap: start it half full instead.
        ...(maxBitrateKbps > 0 ? ['-rc_init_occupancy', String(maxBitrateKbps * 500)] : []),
        // No B-frames: decode order is presentation order, so each sample keeps the
        // exact duration of its source frame when the segment is placed (as with AV1).
        '-bf',
        '0',
        '-g',
        gop,
        '-keyint_min',
        gop,
        '-sc_threshold',
        '0',
        ...(t ? ['-threads', String(t)] : []),
      ];
    case 'aom':
      return [
        '-c:v',
        'libaom-av1',
        '-crf',
        String(s.crf),
        // Constrained quality with the cap as the bit rate when capped; plain CRF otherwise.
        '-b:v',
        maxBitrateKbps > 0 ? `${maxBitrateKbps}k` : '0',
        ...cap,
        '-cpu-used',
        String(s.preset),
        '-row-mt',
        '1',
        '-g',
        gop,
        '-keyint_min',
        gop,
        '-lag-in-frames',
        '35',
        ...(t ? ['-threads', String(t)] : []),
      ];
    case 'rav1e':
      // librav1e takes a quantizer 0..255; map the CRF scale onto it.
      return [
        '-c:v',
        'librav1e',
        '-qp',
        String(Math.round((s.crf * 255) / 63)),
        // rav1e has no capped quantizer mode: the cap becomes its bit rate target.
        ...(maxBitrateKbps > 0 ? ['-b:v', `${maxBitrateKbps}k`] : []),
        '-speed',
        String(s.preset),
        '-g',
        gop,
        '-keyint_min',
        gop,
        ...(t ? ['-threads', String(t)] : []),
      ];
    default:
      return [
        '-c:v',
        'libsvtav1',
        '-crf',
        String(s.crf),
        '-preset',
        String(s.preset),
        ...cap,
        '-g',
        gop,
        '-svtav1-params',
        t ? `scd=0:lp=${t}` : 'scd=0',
      ];
  }
}
