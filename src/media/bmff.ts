// Minimal ISO BMFF (MP4) box reading and writing: enough to split an fMP4 into
// init and media segment and to put a fragment at its true place on the output
// timeline (tfdt, mfhd, per-sample durations in trun).

export interface Box {
  type: string;
  /** Offset of the box header in the buffer. */
  start: number;
  size: number;
  headerSize: number;
}

const CONTAINERS = new Set([
  'moov',
  'trak',
  'mdia',
  'minf',
  'stbl',
  'moof',
  'traf',
  'mvex',
  'edts',
  'dinf',
  'udta',
]);

/** The boxes directly inside [start, end) of `buf`. */
export function parseBoxes(buf: Buffer, start = 0, end = buf.length): Box[] {
  const boxes: Box[] = [];
  let off = start;
  while (off + 8 <= end) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    let headerSize = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(off + 8));
      headerSize = 16;
    } else if (size === 0) {
      size = end - off;
    }
    if (size < headerSize || off + size > end) throw new Error(`malformed MP4 box ${type} at ${off}`);
    boxes.push({ type, start: off, size, headerSize });
    off += size;
  }
  return boxes;
}

/** The payload of a box (without its header). */
export function payload(buf: Buffer, box: Box): Buffer {
  return buf.subarray(box.start + box.headerSize, box.start + box.size);
}

/** Finds a box by path, e.g. ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']. */
export function findBox(buf: Buffer, path: string[], start = 0, end = buf.length): Box | undefined {
  const [head, ...rest] = path;
  const box = parseBoxes(buf, start, end).find((b) => b.type === head);
  if (!box || rest.length === 0) return box;
  if (!CONTAINERS.has(box.type)) return undefined;
  return findBox(buf, rest, box.start + box.headerSize, box.start + box.size);
}

/** Serializes a box from its type and payload parts. */
export function makeBox(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

/** A full box: version, flags, payload. */
export function makeFullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return makeBox(type, vf, ...parts);
}

export interface TrunSample {
  duration?: number;
  size?: number;
  flags?: number;
  compositionOffset?: number;
}

export interface Trun {
  version: number;
  flags: number;
  dataOffset?: number;
  firstSampleFlags?: number;
  samples: TrunSample[];
}

/** Parses a trun payload (after the box header). */
export function parseTrun(p: Buffer): Trun {
  const version = p.readUInt8(0);
  const flags = p.readUInt32BE(0) & 0xffffff;
  const count = p.readUInt32BE(4);
  let off = 8;
  const t: Trun = { version, flags, samples: [] };
  if (flags & 0x1) {
    t.dataOffset = p.readInt32BE(off);
    off += 4;
  }
  if (flags & 0x4) {
    t.firstSampleFlags = p.readUInt32BE(off);
    off += 4;
  }
  const u32 = () => {
    const v = p.readUInt32BE(off);
    off += 4;
    return v;
  };
  for (let i = 0; i < count; i++) {
    const s: TrunSample = {};
    if (flags & 0x100) s.duration = u32();
    if (flags & 0x200) s.size = u32();
    if (flags & 0x400) s.flags = u32();
    if (flags & 0x800) {
      const v = u32();
      s.compositionOffset = version === 0 ? v : v | 0;
    }
    t.samples.push(s);
  }
  return t;
}

/** Serializes a trun box. */
export function makeTrun(t: Trun): Buffer {
  const f = t.flags;
  const per = [0x100, 0x200, 0x400, 0x800].filter((b) => f & b).length;
  const b = Buffer.alloc(4 + (f & 0x1 ? 4 : 0) + (f & 0x4 ? 4 : 0) + 4 * per * t.samples.length);
  let off = 0;
  const put = (v: number) => {
    b.writeUInt32BE(v >>> 0, off);
    off += 4;
  };
  put(t.samples.length);
  if (f & 0x1) put(t.dataOffset ?? 0);
  if (f & 0x4) put(t.firstSampleFlags ?? 0);
  for (const s of t.samples) {
    if (f & 0x100) put(s.duration ?? 0);
    if (f & 0x200) put(s.size ?? 0);
    if (f & 0x400) put(s.flags ?? 0);
    if (f & 0x800) put(s.compositionOffset ?? 0);
  }
  return makeFullBox('trun', t.version, f, b);
}

/** Whether sample flags mark a sync (key) sample: not "is non-sync", depends on nothing. */
export function isSyncSample(flags: number): boolean {
  return (flags & 0x00010000) === 0 && ((flags >> 24) & 0x3) !== 1;
}
