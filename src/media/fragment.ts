// Turns the fMP4 file one encode wrote into the shared init segment and one HLS
// media segment placed at its true time: tfdt = segment start on the output
// timeline, mfhd = index + 1, one sample duration per source frame.
import { AppError, ErrorKind } from '../errors.js';
import {
  type Box,
  findBox,
  isSyncSample,
  makeBox,
  makeFullBox,
  makeTrun,
  parseBoxes,
  parseTrun,
  payload,
} from './bmff.js';
import { av1CodecString, av1cFields, avcCodecString } from './codec-string.js';

export interface Placement {
  /** mfhd sequence number. */
  sequence: number;
  /** baseMediaDecodeTime, in the track timescale. */
  baseTime: number;
  /** Exact duration of every sample, in the track timescale. */
  durations: number[];
}

export interface SplitFmp4 {
  init: Buffer;
  segment: Buffer;
  sampleCount: number;
  timescale: number;
}

export interface SplitFmp4Segments {
  init: Buffer;
  /**
   * One placed media segment per placement, in order, as the buffers to write one
   * after the other (styp, then per fragment moof, mdat header, the encoder's
   * bytes: not copied).
   */
  segments: Buffer[][];
  timescale: number;
  /** Byte range of each segment's first fragment (moof + mdat of its key frame alone). */
  keyFrames: { offset: number; length: number }[];
}

/** The encoder wrote a different number of frames than the segments need (e.g. a seek landed late). */
export class FrameCountError extends AppError {
  constructor(message: string) {
    super(ErrorKind.Internal, message);
  }
}

/** A segment of the run does not start on a key frame (the encoder put them elsewhere). */
export class KeyFrameError extends AppError {
  constructor(message: string) {
    super(ErrorKind.Internal, message);
  }
}

const STYP = makeBox(
  'styp',
  Buffer.from('msdh', 'latin1'),
  Buffer.alloc(4),
  Buffer.from('msdhmsix', 'latin1'),
);

/** Splits `file` (ftyp, moov, moof, mdat) into init and a placed media segment. */
export function placeFragment(file: Buffer, placement: Placement): SplitFmp4 {
  const { init, segments, timescale } = placeFragments(file, [placement]);
  return { init, segment: Buffer.concat(segments[0]!), sampleCount: placement.durations.length, timescale };
}

/** A tkhd's transformation matrix that shows the frames as they are (ISO/IEC 14496-12, 8.3.2). */
const IDENTITY_MATRIX = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];

/**
 * `init` with its track's matrix set to the identity: the encode turned the frames
 * itself (the source's display rotation), so a display matrix the muxer copied from
 * the input must not turn them again in the player.
 */
function unrotated(init: Buffer): Buffer {
  const tkhd = findBox(init, ['moov', 'trak', 'tkhd']);
  // No tkhd, no matrix to undo (the unit tests' hand-made files).
  if (!tkhd) return init;
  const out = Buffer.from(init);
  const p = tkhd.start + tkhd.headerSize;
  // version and flags; times, track id, reserved, duration (64-bit times in version 1);
  // 2 reserved words; layer, alternate group, volume, reserved: then the matrix.
  const matrix = p + 4 + (out.readUInt8(p) === 1 ? 32 : 20) + 8 + 8;
  if (matrix + 36 > tkhd.start + tkhd.size)
    throw new AppError(ErrorKind.Internal, 'encoder output has a short tkhd');
  IDENTITY_MATRIX.forEach((v, i) => {
    out.writeInt32BE(v, matrix + 4 * i);
  });
  return out;
}

/**
 * Splits `file` (ftyp, moov, one moof + mdat holding every frame) into the init
 * segment and one placed media segment per placement: placement i takes the next
 * `durations.length` frames, which must start with a key frame. Each segment holds
 * two fragments, its key frame alone and the rest (mfhd 2 × sequence - 1 and
 * 2 × sequence), so the key frame has its own byte range for I-frame playlists.
 */
export function placeFragments(file: Buffer, placements: Placement[]): SplitFmp4Segments {
  const top = parseBoxes(file);
  const ftyp = top.find((b) => b.type === 'ftyp');
  const moov = top.find((b) => b.type === 'moov');
  const moofs = top.filter((b) => b.type === 'moof');
  const mdats = top.filter((b) => b.type === 'mdat');
  if (!ftyp || !moov) throw new AppError(ErrorKind.Internal, 'encoder output has no ftyp/moov');
  if (moofs.length !== 1 || mdats.length !== 1)
    throw new AppError(
      ErrorKind.Internal,
      `encoder output has ${moofs.length} fragments; expected exactly one`,
    );
  const moof = moofs[0]!;
  const init = unrotated(Buffer.concat([slice(file, ftyp), slice(file, moov)]));
  const mdhd = findBox(file, ['moov', 'trak', 'mdia', 'mdhd']);
  if (!mdhd) throw new AppError(ErrorKind.Internal, 'encoder output has no mdhd');
  const mp = payload(file, mdhd);
  const timescale = mp.readUInt8(0) === 1 ? mp.readUInt32BE(20) : mp.readUInt32BE(12);

  const inner = parseBoxes(file, moof.start + moof.headerSize, moof.start + moof.size);
  const trafs = inner.filter((b) => b.type === 'traf');
  if (trafs.length !== 1)
    throw new AppError(ErrorKind.Internal, `fragment has ${trafs.length} tracks; expected one`);
  const traf = trafs[0]!;
  const children = parseBoxes(file, traf.start + traf.headerSize, traf.start + traf.size);
  const truns = children.filter((b) => b.type === 'trun');
  const tfhd = children.find((b) => b.type === 'tfhd');
  if (truns.length !== 1 || !tfhd)
    throw new AppError(ErrorKind.Internal, 'fragment must have one tfhd and one trun');
  const defaults = tfhdDefaults(payload(file, tfhd));
  const trun = parseTrun(payload(file, truns[0]!));
  const count = trun.samples.length;
  const needed = placements.reduce((n, p) => n + p.durations.length, 0);
  if (count !== needed)
    throw new FrameCountError(`encoder wrote ${count} frames; the segment needs ${needed}`);
  if (defaults.baseDataOffset)
    throw new AppError(
      ErrorKind.Internal,
      'fragment has an explicit base data offset; expected default-base-is-moof',
    );
  const perSampleFlags = (trun.flags & 0x400) !== 0;
  const flagsOf = (i: number) =>
    (perSampleFlags ? trun.samples[i]!.flags : i === 0 ? trun.firstSampleFlags : undefined) ??
    defaults.flags ??
    0;
  const sizeOf = (i: number) => {
    const size = trun.samples[i]!.size ?? defaults.size;
    if (size === undefined) throw new AppError(ErrorKind.Internal, 'fragment gives no sample sizes');
    return size;
  };
  // Sample data is contiguous from the data offset (relative to the moof start).
  let dataAt = moof.start + (trun.dataOffset ?? moof.size + mdats[0]!.headerSize);
  const others = children
    .filter((b) => !['tfhd', 'tfdt', 'trun'].includes(b.type))
    .map((b) => slice(file, b));
  // Other per-sample boxes (sdtp, sbgp, senc, ...) describe the whole run and cannot be shared out.
  if (others.length > 0 && placements.length > 1)
    throw new AppError(
      ErrorKind.Internal,
      'fragment has per-sample boxes that cannot be split between segments',
    );

  let first = 0;
  const keyFrames: { offset: number; length: number }[] = [];
  const segments = placements.map((placement, k) => {
    const n = placement.durations.length;
    if (!isSyncSample(flagsOf(first)))
      throw new KeyFrameError(
        k === 0
          ? 'segment does not start with a key frame'
          : `segment ${k + 1} of the run does not start with a key frame`,
      );
    const samples = trun.samples.slice(first, first + n).map((s, i) => ({
      duration: placement.durations[i],
      size: sizeOf(first + i),
      flags: s.flags,
      compositionOffset: s.compositionOffset,
    }));
    const bytes = samples.reduce((t, x) => t + x.size, 0);
    const data = file.subarray(dataAt, dataAt + bytes);
    if (data.length !== bytes) throw new AppError(ErrorKind.Internal, 'encoder output is truncated');
    const firstFlags = (i: number) => (perSampleFlags ? undefined : flagsOf(i));
    const fragmentOf = (
      sequence: number,
      baseTime: number,
      part: typeof samples,
      at: number,
      flags?: number,
    ) => {
      const partBytes = part.reduce((t, x) => t + x.size, 0);
      const tfdtBody = Buffer.alloc(8);
      tfdtBody.writeBigUInt64BE(BigInt(baseTime));
      const mfhdBody = Buffer.alloc(4);
      mfhdBody.writeUInt32BE(sequence);
      const moofWith = (dataOffset: number) =>
        makeBox(
          'moof',
          makeFullBox('mfhd', 0, 0, mfhdBody),
          makeBox(
            'traf',
            slice(file, tfhd),
            makeFullBox('tfdt', 1, 0, tfdtBody),
            makeTrun({
              version: trun.version,
              flags: 0x1 | 0x100 | 0x200 | (perSampleFlags ? 0x400 : 0x4) | (trun.flags & 0x800),
              dataOffset,
              firstSampleFlags: flags,
              samples: part,
            }),
            ...others,
          ),
        );
      // The moof's size does not depend on the offset's value; the data follows the
      // mdat header right after the moof (default-base-is-moof).
      const newMoof = moofWith(moofWith(0).length + 8);
      const mdatHeader = Buffer.alloc(8);
      mdatHeader.writeUInt32BE(8 + partBytes);
      mdatHeader.write('mdat', 4, 'latin1');
      return [newMoof, mdatHeader, data.subarray(at, at + partBytes)];
    };
    // The key frame alone in the first fragment (its byte range is the segment's
    // entry in the I-frame playlist), the other frames in a second one.
    // (Other per-sample boxes cannot be shared out: then one fragment, as the encoder wrote it.)
    const alone = others.length === 0 ? 1 : n;
    const keyFragment = fragmentOf(
      2 * placement.sequence - 1,
      placement.baseTime,
      samples.slice(0, alone),
      0,
      firstFlags(first),
    );
    const parts = [STYP, ...keyFragment];
    if (n > alone)
      parts.push(
        ...fragmentOf(
          2 * placement.sequence,
          placement.baseTime + samples[0]!.duration!,
          samples.slice(1),
          samples[0]!.size,
          firstFlags(first + 1),
        ),
      );
    keyFrames.push({ offset: STYP.length, length: keyFragment.reduce((t, b) => t + b.length, 0) });
    first += n;
    dataAt += bytes;
    return parts;
  });
  return { init, segments, timescale, keyFrames };
}

function slice(buf: Buffer, box: Box): Buffer {
  return buf.subarray(box.start, box.start + box.size);
}

function tfhdDefaults(p: Buffer): { size?: number; flags?: number; baseDataOffset: boolean } {
  const flags = p.readUInt32BE(0) & 0xffffff;
  let off = 8;
  if (flags & 0x1) off += 8;
  if (flags & 0x2) off += 4;
  if (flags & 0x8) off += 4;
  const out: { size?: number; flags?: number; baseDataOffset: boolean } = {
    baseDataOffset: (flags & 0x1) !== 0,
  };
  if (flags & 0x10) {
    out.size = p.readUInt32BE(off);
    off += 4;
  }
  if (flags & 0x20) out.flags = p.readUInt32BE(off);
  return out;
}

/** The RFC 6381 codec string of an init segment's video: from its av1C (av01) or avcC (avc1). */
export function initCodecString(init: Buffer): string {
  const entry = sampleEntry(init);
  if (entry.type === 'av01') return av1CodecString(av1cFields(av1cOf(init)));
  if (entry.type === 'avc1' || entry.type === 'avc3') {
    const avcc = parseBoxes(init, entry.start + entry.headerSize + 78, entry.start + entry.size).find(
      (b) => b.type === 'avcC',
    );
    if (!avcc) throw new AppError(ErrorKind.Internal, 'init segment has no avcC');
    return avcCodecString(payload(init, avcc));
  }
  throw new AppError(ErrorKind.Internal, `init segment has an unexpected sample entry ${entry.type}`);
}

/** The first sample entry of an init segment's stsd. */
function sampleEntry(init: Buffer): Box {
  const stsd = findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
  if (!stsd) throw new AppError(ErrorKind.Internal, 'init segment has no stsd');
  const entry = parseBoxes(init, stsd.start + stsd.headerSize + 8, stsd.start + stsd.size)[0];
  if (!entry) throw new AppError(ErrorKind.Internal, 'init segment has no sample entry');
  return entry;
}

/** The av1C payload of an init segment. */
export function av1cOf(init: Buffer): Buffer {
  const stsd = findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
  if (!stsd) throw new AppError(ErrorKind.Internal, 'init segment has no stsd');
  const entries = parseBoxes(init, stsd.start + stsd.headerSize + 8, stsd.start + stsd.size);
  const av01 = entries.find((b) => b.type === 'av01');
  if (!av01) throw new AppError(ErrorKind.Internal, 'init segment has no av01 sample entry');
  // VisualSampleEntry: 78 bytes of fields before its child boxes.
  const av1c = parseBoxes(init, av01.start + av01.headerSize + 78, av01.start + av01.size).find(
    (b) => b.type === 'av1C',
  );
  if (!av1c) throw new AppError(ErrorKind.Internal, 'init segment has no av1C');
  return payload(init, av1c);
}
