// HLS playlist text (RFC 8216bis): media playlists for fMP4 segments and the
// multivariant (master) playlist. Pure functions; the manifest op does the I/O.
import { targetDuration } from './plan.js';

export interface MediaEntry {
  uri: string;
  /** Duration in seconds. */
  duration: number;
}

/**
 * VOD: the complete playlist (EXT-X-ENDLIST). EVENT: the segments so far of one
 * that only grows; players reload it, and EXT-X-START has them start at the
 * beginning rather than near the end.
 */
export type PlaylistType = 'VOD' | 'EVENT';

function typeLines(type: PlaylistType): string[] {
  return type === 'VOD'
    ? ['#EXT-X-PLAYLIST-TYPE:VOD']
    : ['#EXT-X-PLAYLIST-TYPE:EVENT', '#EXT-X-START:TIME-OFFSET=0'];
}

const endLines = (type: PlaylistType) => (type === 'VOD' ? ['#EXT-X-ENDLIST', ''] : ['']);

/**
 * A media playlist with a shared init segment (EXT-X-MAP). `target`: the
 * EXT-X-TARGETDURATION all playlists of the job share (default: this one's own).
 */
export function mediaPlaylist(
  initUri: string,
  entries: MediaEntry[],
  target?: number,
  type: PlaylistType = 'VOD',
): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target ?? targetDuration(entries.map((e) => e.duration))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    ...typeLines(type),
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${initUri}"`,
  ];
  for (const e of entries) lines.push(`#EXTINF:${e.duration.toFixed(6)},`, e.uri);
  lines.push(...endLines(type));
  return lines.join('\n');
}

export interface IFrameEntry {
  uri: string;
  /** Seconds until the next key frame (the segment's duration). */
  duration: number;
  offset: number;
  length: number;
}

/** An I-frame playlist (RFC 8216bis §4.4.3.6): the byte range of each key frame, one per segment. */
export function iFramePlaylist(
  initUri: string,
  entries: IFrameEntry[],
  target: number,
  type: PlaylistType = 'VOD',
): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    ...typeLines(type),
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-I-FRAMES-ONLY',
    `#EXT-X-MAP:URI="${initUri}"`,
  ];
  for (const e of entries)
    lines.push(`#EXTINF:${e.duration.toFixed(6)},`, `#EXT-X-BYTERANGE:${e.length}@${e.offset}`, e.uri);
  lines.push(...endLines(type));
  return lines.join('\n');
}

export interface IFrameVariant {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
  width: number;
  height: number;
}

export interface VariantInfo {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string[];
  width: number;
  height: number;
  /** Frames per second, formatted with three decimals. */
  frameRate: string;
}

export interface AudioInfo {
  uri: string;
  channels: number;
  groupId: string;
  name: string;
}

/**
 * The multivariant playlist: the variants in the order given, optionally with an
 * AAC audio rendition group, then one I-frame variant per video rendition.
 */
export function masterPlaylist(
  variants: VariantInfo[],
  audio?: AudioInfo,
  iFrames: IFrameVariant[] = [],
): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (audio)
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${audio.groupId}",NAME="${audio.name}",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audio.channels}",URI="${audio.uri}"`,
    );
  for (const variant of variants) {
    const attrs = [
      `BANDWIDTH=${Math.ceil(variant.bandwidth)}`,
      `AVERAGE-BANDWIDTH=${Math.ceil(variant.averageBandwidth)}`,
      `CODECS="${variant.codecs.join(',')}"`,
      `RESOLUTION=${variant.width}x${variant.height}`,
      `FRAME-RATE=${variant.frameRate}`,
    ];
    if (audio) attrs.push(`AUDIO="${audio.groupId}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, variant.uri);
  }
  for (const f of iFrames)
    lines.push(
      `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=${Math.ceil(f.bandwidth)},AVERAGE-BANDWIDTH=${Math.ceil(f.averageBandwidth)},CODECS="${f.codecs}",RESOLUTION=${f.width}x${f.height},URI="${f.uri}"`,
    );
  lines.push('');
  return lines.join('\n');
}

/** Parses the EXTINF entries of a media playlist (for playlists ffmpeg wrote). */
export function parseMediaPlaylist(text: string): { map?: string; entries: MediaEntry[] } {
  const entries: MediaEntry[] = [];
  let map: string | undefined;
  let pending: number | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MAP:')) map = /URI="([^"]+)"/.exec(line)?.[1];
    else if (line.startsWith('#EXTINF:')) pending = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#') && pending !== undefined) {
      entries.push({ uri: line, duration: pending });
      pending = undefined;
    }
  }
  return { map, entries };
}
