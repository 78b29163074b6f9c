// HLS playlist text (RFC 8216bis): media playlists for fMP4 segments and the
// multivariant (master) playlist. Pure functions; the manifest op does the I/O.
import { targetDuration } from './plan.js';

export interface MediaEntry {
  uri: string;
  /** Duration in seconds. */
  duration: number;
}

/** A VOD media playlist with a shared init segment (EXT-X-MAP). */
export function mediaPlaylist(initUri: string, entries: MediaEntry[]): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${targetDuration(entries.map((e) => e.duration))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${initUri}"`,
  ];
  for (const e of entries) lines.push(`#EXTINF:${e.duration.toFixed(6)},`, e.uri);
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
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

/** The multivariant playlist: one AV1 variant, optionally with an AAC audio rendition group. */
export function masterPlaylist(variant: VariantInfo, audio?: AudioInfo): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (audio)
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${audio.groupId}",NAME="${audio.name}",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audio.channels}",URI="${audio.uri}"`,
    );
  const attrs = [
    `BANDWIDTH=${Math.ceil(variant.bandwidth)}`,
    `AVERAGE-BANDWIDTH=${Math.ceil(variant.averageBandwidth)}`,
    `CODECS="${variant.codecs.join(',')}"`,
    `RESOLUTION=${variant.width}x${variant.height}`,
    `FRAME-RATE=${variant.frameRate}`,
  ];
  if (audio) attrs.push(`AUDIO="${audio.groupId}"`);
  lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, variant.uri, '');
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
