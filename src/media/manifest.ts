// Manifest: checks that the segments form one stream (one init, one codec, a
// gapless timeline) and writes the media and multivariant playlists, the
// multivariant (master) one last: until it is replaced, it names the files of
// the job that wrote it before.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type ManifestResult, ManifestResultSchema } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Segment } from '../gen/avspl1t/v1/media_pb.js';
import { baseName, childFolder } from '../storage/index.js';
import type { ManifestOptions, OperationContext } from './api.js';
import { AAC_LC_CODEC } from './codec-string.js';
import { masterPlaylist, mediaPlaylist } from './hls.js';
import { fps3 } from './rational.js';

export const MASTER_NAME = 'master.m3u8';
export const VIDEO_PLAYLIST_NAME = 'video.m3u8';
export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

/** Writes the media playlist(s) and the multivariant playlist; returns the master playlist. */
export async function manifest(opts: ManifestOptions, ctx: OperationContext): Promise<ManifestResult> {
  const segments = [...opts.segments].sort((a, b) => a.index - b.index);
  checkStream(segments);
  const media = opts.mediaFolder ? childFolder(opts.output, opts.mediaFolder) : opts.output;
  const fromMaster = (name: string) => (opts.mediaFolder ? `${opts.mediaFolder}/${name}` : name);
  const first = segments[0]!;
  const seconds = (s: Segment) => s.duration / s.timescale;
  const video = mediaPlaylist(
    baseName(first.init!),
    segments.map((s) => ({ uri: baseName(s.file!), duration: seconds(s) })),
  );
  const totalSeconds = segments.reduce((t, s) => t + seconds(s), 0);
  const totalBytes = segments.reduce((t, s) => t + s.sizeBytes, 0);
  // Peak over segments of at least half the nominal length: a short last segment's rate is noise.
  // Reduced, not spread into Math.max: a long source has more segments than a call takes arguments.
  const nominal = segments.reduce((m, s) => Math.max(m, seconds(s)), Number.NEGATIVE_INFINITY);
  const peak = segments
    .filter((s) => seconds(s) >= nominal / 2)
    .reduce((m, s) => Math.max(m, (s.sizeBytes * 8) / seconds(s)), Number.NEGATIVE_INFINITY);
  const audioBps = opts.audio?.bitrate ?? 0;
  const src = opts.source;
  const master = masterPlaylist(
    {
      uri: fromMaster(VIDEO_PLAYLIST_NAME),
      bandwidth: peak + audioBps,
      averageBandwidth: (totalBytes * 8) / totalSeconds + audioBps,
      codecs: opts.audio ? [first.codecs, opts.audio.codecs || AAC_LC_CODEC] : [first.codecs],
      width: src.width,
      height: src.height,
      frameRate: fps3({ num: src.frameRate!.num, den: src.frameRate!.den }),
    },
    opts.audio
      ? {
          uri: fromMaster(baseName(opts.audio.playlist!)),
          channels: opts.audio.channels,
          groupId: 'audio',
          name: 'Audio',
        }
      : undefined,
  );
  const put = async (folder: typeof media, name: string, text: string) => {
    const local = path.join(ctx.tmpDir, name);
    await writeFile(local, text);
    return ctx.storage.upload(local, folder, name, { contentType: PLAYLIST_TYPE, signal: ctx.signal });
  };
  const mediaFile = await put(media, VIDEO_PLAYLIST_NAME, video);
  const masterFile = await put(opts.output, MASTER_NAME, master);
  // Every upload of the job is done: what is left under a temporary name was cut off.
  await ctx.storage.removeTemporaries(media);
  if (opts.working) await ctx.storage.removeTemporaries(opts.working);
  ctx.onProgress?.(1);
  return create(ManifestResultSchema, { master: masterFile, mediaPlaylist: mediaFile });
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
