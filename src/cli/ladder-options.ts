// The ladder flags of `encode` and `submit`: `--ladder single|default|<file.json>`
// and repeatable `--rendition codec:size:kbps[:crf[:preset]]`, parsed once into
// the EncodeJob's `ladder` and `renditions` (checked again by the coordinator).
import { readFileSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { invalidInput } from '../errors.js';
import { type EncoderSettings, type Rendition, RenditionSchema } from '../gen/avspl1t/v1/media_pb.js';
import { checkLadder } from '../media/ladder.js';

export interface LadderFlags {
  ladder?: string;
  rendition?: string[];
}

/** Adds --ladder and --rendition; `defaultLadder` is what the command does without them. */
export function ladderFlags(cmd: Command, defaultLadder: 'single' | 'default'): Command {
  return cmd
    .option(
      '--ladder <name|file>',
      'renditions: "default" (AV1 at the source height up to 1080p and 3 smaller, H.264 at up to 720p and half that, never upscaled), "single" (one AV1 rendition at the source size), or a JSON file listing renditions',
      defaultLadder,
    )
    .option(
      '--rendition <spec>',
      'one rung, repeatable, instead of --ladder: codec:height or codec:WxH, then max kbit/s, optional crf and preset (e.g. av1:720:2500, h264:640x360:800:23); codec av1 (= --encoder), svt, aom, rav1e, h264',
      (value: string, list: string[] = []) => [...list, value],
    );
}

/** Encoder names a --rendition codec stands for; `av1` is the job's AV1 encoder (--encoder). */
function encoderFor(codec: string, av1: EncoderSettings): string {
  if (codec === 'av1') return av1.encoder;
  if (codec === 'h264') return 'x264';
  return codec;
}

/** One --rendition spec as a Rendition (the coordinator's checks still apply). */
export function parseRendition(spec: string, av1: EncoderSettings): Rendition {
  const parts = spec.split(':');
  const [codec = '', size = '', kbps, crf, preset] = parts;
  const bad = (why: string) => invalidInput(`--rendition "${spec}": ${why}`);
  if (parts.length < 3 || parts.length > 5)
    throw bad('expected codec:height:max-kbps[:crf[:preset]], e.g. av1:720:2500 or h264:640x360:800:23');
  const m = /^(?:(\d+)x)?(\d+)p?$/.exec(size);
  if (!m) throw bad(`size "${size}" must be a height (720) or WxH (1280x720)`);
  const int = (value: string | undefined, what: string) => {
    if (value === undefined || value === '') return undefined;
    if (!/^\d+$/.test(value)) throw bad(`${what} must be a whole number, got "${value}"`);
    return Number(value);
  };
  const encoder = encoderFor(codec, av1);
  const sameEncoder = encoder === av1.encoder;
  return create(RenditionSchema, {
    settings: {
      encoder,
      crf: int(crf, 'crf') ?? (sameEncoder ? av1.crf : 0),
      preset: int(preset, 'preset') ?? (sameEncoder ? av1.preset : 0),
    },
    width: Number(m[1] ?? 0),
    height: Number(m[2]),
    maxBitrateKbps: int(kbps, 'max kbit/s') ?? 0,
  });
}

/** A --ladder JSON file: an array of renditions as protobuf JSON names them (or a { renditions } object). */
function readLadderFile(file: string): Rendition[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw invalidInput(
      `--ladder ${file}: not a readable JSON file (${err instanceof Error ? err.message : err})`,
    );
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { renditions?: unknown })?.renditions;
  if (!Array.isArray(list)) throw invalidInput(`--ladder ${file}: expected a JSON array of renditions`);
  return list.map((r, i) => {
    if (typeof r !== 'object' || r === null)
      throw invalidInput(`--ladder ${file}: rendition ${i} is not an object`);
    const o = r as Record<string, unknown>;
    const num = (k: string) => (typeof o[k] === 'number' ? (o[k] as number) : 0);
    const settings = (o.settings ?? {}) as Record<string, unknown>;
    return create(RenditionSchema, {
      name: typeof o.name === 'string' ? o.name : '',
      settings: {
        encoder: String(settings.encoder ?? o.encoder ?? ''),
        crf: Number(settings.crf ?? o.crf ?? 0),
        preset: Number(settings.preset ?? o.preset ?? 0),
      },
      width: num('width'),
      height: num('height'),
      maxBitrateKbps: num('maxBitrateKbps') || num('max_bitrate_kbps'),
    });
  });
}

/** The job's `ladder` and `renditions` from the flags (checked here too, so mistakes are named before any upload). */
export function ladderOptions(
  flags: LadderFlags,
  av1: EncoderSettings,
): { ladder: string; renditions: Rendition[] } {
  if (flags.rendition?.length) {
    const renditions = flags.rendition.map((spec) => parseRendition(spec, av1));
    return { ladder: '', renditions: checkLadder(renditions, '--rendition') };
  }
  const ladder = flags.ladder ?? 'default';
  if (ladder === 'single' || ladder === 'default') return { ladder, renditions: [] };
  return { ladder: '', renditions: checkLadder(readLadderFile(ladder), `--ladder ${ladder}`) };
}
