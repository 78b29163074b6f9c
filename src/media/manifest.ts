// Manifest: checks that each rung's segments form one stream (one init, one
// codec, a gapless timeline) and that the rungs are aligned, and writes the
// media, I-frame and multivariant playlists, the multivariant (master) one last:
// until it is replaced, it names the files of the job that wrote it before.
// A progressive job's earlier manifests write EVENT playlists of the segments so
// far (bit rates in the master measured from those); the final one, VOD.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type ManifestResult, ManifestResultSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import { type Rendition, RenditionSchema, type Segment } from '../gen/avspl1t/v1/media_pb.js';
import type { Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { baseName, childFolder } from '../storage/index.js';
import type { ManifestOptions, OperationContext } from './api.js';
import { AUDIO_INIT_NAME } from './audio.js';
import { AAC_LC_CODEC } from './codec-string.js';
import {
  type IFrameVariant,
  iFramePlaylist,
  masterPlaylist,
  mediaPlaylist,
  type VariantInfo,
} from './hls.js';
import { targetDuration } from './plan.js';
import { fps3 } from './rational.js';

export const MASTER_NAME = 'master.m3u8';
export const VIDEO_PLAYLIST_NAME = 'video.m3u8';
export const IFRAME_PLAYLIST_NAME = 'iframes.m3u8';
export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

/** One rung's segments with what its playlists and master entry need. */
interface RungOutput {
  rendition: Rendition;
  segments: Segment[];
  /** Folder of its files, and its playlists' paths relative to the master. */
  folder: Folder;
  playlistUri: string;
  iFramesUri: string;
}

/**
 * Writes each rung's media and I-frame playlists, the audio playlist with the
 * target duration every playlist shares, and the multivariant playlist (last);
 * returns the master playlist.
 */
export async function manifest(opts: ManifestOptions, ctx: OperationContext): Promise<ManifestResult> {
  const media = opts.mediaFolder ? childFolder(opts.output, opts.mediaFolder) : opts.output;
  const fromMaster = (name: string) => (opts.mediaFolder ? `${opts.mediaFolder}/${name}` : name);
  const ladder = opts.renditions?.length
    ? opts.renditions
    : [create(RenditionSchema, { name: '', width: opts.source.width, height: opts.source.height })];
  const rungs: RungOutput[] = ladder.map((rendition, r) => {
    const segments = opts.segments.filter((s) => s.renditionIndex === r).sort((a, b) => a.index - b.index);
    const inRung = (name: string) => (rendition.name ? `${rendition.name}/${name}` : name);
    return {
      rendition,
      segments,
      folder: rendition.name ? childFolder(media, rendition.name) : media,
      playlistUri: fromMaster(inRung(VIDEO_PLAYLIST_NAME)),
      iFramesUri: fromMaster(inRung(IFRAME_PLAYLIST_NAME)),
    };
  });
  for (const rung of rungs) {
    try {
      checkStream(rung.segments);
    } catch (err) {
      if (!rung.rendition.name || !(err instanceof AppError)) throw err;
      throw new AppError(err.kind, `rendition ${rung.rendition.name}: ${err.message}`);
    }
  }
  checkAligned(rungs);
  const seconds = (s: Segment) => s.duration / s.timescale;
  const audioSeconds = opts.audio?.segmentSeconds ?? [];
  // One target duration for every playlist (Apple HLS authoring 8.2).
  const target = targetDuration([...rungs[0]!.segments.map(seconds), ...audioSeconds]);
  const type = opts.progressive ? 'EVENT' : 'VOD';
  let written = 0;
  const put = async (folder: Folder, name: string, text: string) => {
    // Every rung has a video.m3u8: a local name of its own for each.
    const local = path.join(ctx.tmpDir, `${written++}-${name}`);
    await writeFile(local, text);
    return ctx.storage.upload(local, folder, name, { contentType: PLAYLIST_TYPE, signal: ctx.signal });
  };

  const audioPeak = opts.audio ? opts.audio.peakBitrate || opts.audio.bitrate : 0;
  const audioAverage = opts.audio ? opts.audio.averageBitrate || opts.audio.bitrate : 0;
  // HLS FRAME-RATE is the most frames a second: a variable-rate source's own measure of it.
  const shownRate = opts.source.maxFrameRate ?? opts.source.frameRate!;
  const frameRate = fps3({ num: shownRate.num, den: shownRate.den });
  const variants: (VariantInfo & { h264: boolean; pixels: number })[] = [];
  const iFrames: IFrameVariant[] = [];
  let firstMedia: Folder | undefined;
  let mediaFile: ManifestResult['mediaPlaylist'];
  for (const rung of rungs) {
    const { segments } = rung;
    const first = segments[0]!;
    const init = baseName(first.init!);
    const entries = segments.map((s) => ({ uri: baseName(s.file!), duration: seconds(s) }));
    const file = await put(rung.folder, VIDEO_PLAYLIST_NAME, mediaPlaylist(init, entries, target, type));
    if (!firstMedia) {
      firstMedia = rung.folder;
      mediaFile = file;
    }
    const keyFrames = segments.map((s) => ({
      uri: baseName(s.file!),
      duration: seconds(s),
      offset: s.keyFrameOffset,
      length: s.keyFrameLength,
    }));
    await put(rung.folder, IFRAME_PLAYLIST_NAME, iFramePlaylist(init, keyFrames, target, type));
    const video = bitRates(segments.map((s) => ({ bytes: s.sizeBytes, seconds: seconds(s) })));
    const keys = bitRates(segments.map((s) => ({ bytes: s.keyFrameLength, seconds: seconds(s) })));
    const width = rung.rendition.width || opts.source.width;
    const height = rung.rendition.height || opts.source.height;
    variants.push({
      uri: rung.playlistUri,
      bandwidth: video.peak + audioPeak,
      averageBandwidth: video.average + audioAverage,
      codecs: opts.audio ? [first.codecs, opts.audio.codecs || AAC_LC_CODEC] : [first.codecs],
      width,
      height,
      frameRate,
      h264: first.codecs.startsWith('avc'),
      pixels: width * height,
    });
    iFrames.push({
      uri: rung.iFramesUri,
      bandwidth: keys.peak,
      averageBandwidth: keys.average,
      codecs: first.codecs,
      width,
      height,
    });
  }
  if (opts.audio?.segmentUris.length) {
    // The audio playlist again, with the target duration of the video's.
    const entries = opts.audio.segmentUris.map((uri, i) => ({ uri, duration: audioSeconds[i] ?? 0 }));
    await put(media, baseName(opts.audio.playlist!), mediaPlaylist(AUDIO_INIT_NAME, entries, target, type));
  }
  // H.264 first (best first), then AV1: a player that takes the first variant it is
  // given without reading CODECS gets one every device decodes.
  const ordered = variants
    .map((v, i) => ({ v, i }))
    .sort((a, b) => Number(b.v.h264) - Number(a.v.h264) || a.i - b.i)
    .map(({ v }) => v);
  const master = masterPlaylist(
    ordered,
    opts.audio
      ? {
          uri: fromMaster(baseName(opts.audio.playlist!)),
          channels: opts.audio.channels,
          groupId: 'audio',
          name: 'Audio',
        }
      : undefined,
    iFrames,
  );
  const masterFile = await put(opts.output, MASTER_NAME, master);
  if (opts.progressive) {
    ctx.onProgress?.(1);
    return create(ManifestResultSchema, { master: masterFile, mediaPlaylist: mediaFile });
  }
  // Every upload of the job is done: what is left under a temporary name was cut off.
  for (const rung of rungs) await ctx.storage.removeTemporaries(rung.folder);
  if (rungs.every((r) => r.folder !== media)) await ctx.storage.removeTemporaries(media);
  if (opts.working) await ctx.storage.removeTemporaries(opts.working);
  ctx.onProgress?.(1);
  return create(ManifestResultSchema, { master: masterFile, mediaPlaylist: mediaFile });
}

/**
 * Peak and average bit rate of a run of segments (bits per second); the peak
 * over segments of at least half the longest: a short last segment's rate is noise.
 */
export function bitRates(segments: readonly { bytes: number; seconds: number }[]): {
  peak: number;
  average: number;
} {
  // Reduced, not spread into Math.max: a long source has more segments than a call takes arguments.
  const longest = segments.reduce((m, s) => Math.max(m, s.seconds), 0);
  const peak = segments
    .filter((s) => s.seconds >= longest / 2)
    .reduce((m, s) => Math.max(m, (s.bytes * 8) / s.seconds), 0);
  const bytes = segments.reduce((t, s) => t + s.bytes, 0);
  const total = segments.reduce((t, s) => t + s.seconds, 0);
  return { peak, average: total > 0 ? (bytes * 8) / total : 0 };
}

/** Throws unless every rung has the same segments: same count, same start and duration each. */
function checkAligned(rungs: readonly RungOutput[]): void {
  const [first, ...rest] = rungs;
  for (const rung of rest) {
    if (rung.segments.length !== first!.segments.length)
      throw new AppError(
        ErrorKind.Permanent,
        `rendition ${rung.rendition.name} has ${rung.segments.length} segments, ${first!.rendition.name} ${first!.segments.length}`,
      );
    rung.segments.forEach((s, i) => {
      const o = first!.segments[i]!;
      if (
        s.start * o.timescale !== o.start * s.timescale ||
        s.duration * o.timescale !== o.duration * s.timescale
      )
        throw new AppError(
          ErrorKind.Permanent,
          `segment ${i} of rendition ${rung.rendition.name} is not aligned with ${first!.rendition.name}`,
        );
    });
  }
}

/** Throws unless the segments are 0..n-1, share one init segment and codec, and tile the timeline. */
export function checkStream(segments: Segment[]): void {
  if (segments.length === 0) throw new AppError(ErrorKind.Permanent, 'no segments to publish');
  const first = segments[0]!;
  segments.forEach((s, i) => {
    if (s.index !== i) throw new AppError(ErrorKind.Permanent, `segment ${i} is missing (found ${s.index})`);
    if (s.initSha256 !== first.initSha256)
      throw new AppError(
        ErrorKind.Permanent,
        `segment ${i} was encoded with a different init segment than segment 0 (encoder settings differ between workers?)`,
      );
    if (s.codecs !== first.codecs || s.timescale !== first.timescale)
      throw new AppError(
        ErrorKind.Permanent,
        `segment ${i} has codec ${s.codecs}/${s.timescale}, segment 0 has ${first.codecs}/${first.timescale}`,
      );
    const prev = segments[i - 1];
    if (prev && prev.start + prev.duration !== s.start)
      throw new AppError(
        ErrorKind.Permanent,
        `segment ${i} starts at ${s.start}, but segment ${i - 1} ends at ${prev.start + prev.duration}`,
      );
  });
}
