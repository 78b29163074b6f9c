// Which demuxers may read a job's input, and the input options that pin every
// ffmpeg/ffprobe read to one of them. Playlists (hls, dash), concat lists and
// image sequences open other files by name, which could lie outside the allowed
// roots: only self-contained video files are accepted.

/** Demuxers of self-contained video files and elementary streams (ffmpeg short names). */
export const VIDEO_DEMUXERS = [
  'mov',
  'matroska',
  'mpegts',
  'nut',
  'avi',
  'flv',
  'mpeg',
  'mxf',
  'ogg',
  'asf',
  'yuv4mpegpipe',
  'ivf',
  'obu',
  'h264',
  'hevc',
  'm4v',
  'mpegvideo',
] as const;

/** Image demuxers: refused as "a still image or image sequence" rather than as an unknown format. */
const IMAGE_DEMUXER = /^(image2|image2pipe|\w+_pipe|gif|apng)$/;

/** Demuxers that open files or URLs named inside the input. */
const REFERENCING = /^(hls|dash|concat|imf|webm_dash_manifest|sdp|rtp|rtsp|ffmetadata)$/;

/**
 * Input options for reading a job's input (or a piece of it): local files only,
 * and `demuxer` forced when it is one of VIDEO_DEMUXERS, else any of them.
 */
export function inputArgs(demuxer?: string): string[] {
  const known = (VIDEO_DEMUXERS as readonly string[]).includes(demuxer ?? '');
  return [
    '-protocol_whitelist',
    'file',
    ...(known ? ['-f', demuxer!] : ['-format_whitelist', VIDEO_DEMUXERS.join(',')]),
  ];
}

/** The demuxer to force with -f, from ffprobe's format_name ("mov,mp4,m4a,…" → "mov"); "" when not accepted. */
export function demuxerOf(formatName: string): string {
  const names = formatName.split(',');
  return VIDEO_DEMUXERS.find((d) => names.includes(d)) ?? '';
}

/**
 * The reason an input was refused, from ffprobe's stderr when the demuxer it
 * detected is not on the whitelist ("[hls @ 0x…] Format not on whitelist …");
 * undefined for any other failure.
 */
export function refusedFormat(stderr: string): string | undefined {
  const m = /\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist/.exec(stderr);
  if (!m) return undefined;
  return refusalFor(m[1]!);
}

/** Why an input read by demuxer `name` is refused. */
export function refusalFor(name: string): string {
  if (IMAGE_DEMUXER.test(name)) return `input is a still image or image sequence (${name}), not a video`;
  if (REFERENCING.test(name))
    return `input is a playlist or list (${name}) that refers to other files; only self-contained video files are accepted`;
  return `input format ${name} is not accepted (video files only: ${VIDEO_DEMUXERS.join(', ')})`;
}
