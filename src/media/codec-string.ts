// RFC 6381 codec strings: av01.P.LLT.DD from an av1C box (AV1 ISOBMFF binding §2.3.3).

/** What an AV1 codec string says: the sequence header's profile, level, tier and bit depth. */
export interface Av1CodecFields {
  profile: number;
  level: number;
  tier: 'M' | 'H';
  bitDepth: number;
}

/** `av01.P.LLT.DD`; the level always has two digits (Chromium rejects one). */
export function av1CodecString({ profile, level, tier, bitDepth }: Av1CodecFields): string {
  return `av01.${profile}.${String(level).padStart(2, '0')}${tier}.${String(bitDepth).padStart(2, '0')}`;
}

/** The codec string's fields from an av1C payload. */
export function av1cFields(av1c: Buffer): Av1CodecFields {
  if (av1c.length < 4 || (av1c[0]! & 0x7f) !== 1) throw new Error('not an av1C box (marker/version byte)');
  const highBitDepth = (av1c[2]! >> 6) & 1;
  const twelveBit = (av1c[2]! >> 5) & 1;
  return {
    profile: av1c[1]! >> 5,
    level: av1c[1]! & 0x1f,
    tier: av1c[2]! >> 7 ? 'H' : 'M',
    bitDepth: twelveBit ? 12 : highBitDepth ? 10 : 8,
  };
}

/** AAC-LC in MP4. */
export const AAC_LC_CODEC = 'mp4a.40.2';
