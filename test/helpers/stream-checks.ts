// Checks on the master playlist and the audio rendition of an HLS output, every expected value
// computed here from the files (ffprobe, ffmpeg's trace_headers and silencedetect, file sizes),
// never with src/media (which only lays out the AV1 codec string): the exact CODECS, BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, FRAME-RATE,
// and the audio's codec, segment count, length and sync with the video.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { av1CodecString } from '../../src/media/codec-string.js';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { run } from './exec.js';
import { concatPlaylist } from './media-checks.js';

/** What checkOutput already measured on the video. */
export interface VideoFacts {
  /** Init + all video segments in one file. */
  all: string;
  /** Span of each video segment's frames, seconds. */
  segmentSeconds: number[];
  /** Time of the source's first video frame, seconds (the output's time 0). */
  videoStart: number;
}

/** The attributes of a playlist tag line, e.g. `#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="a,b"`. */
export function tagAttributes(text: string, tag: string): Record<string, string> {
  const line = text.split('\n').find((l) => l.startsWith(`${tag}:`));
  assert.ok(line, `${tag} in ${text}`);
  const attrs: Record<string, string> = {};
  for (const m of line.slice(tag.length + 1).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g))
    attrs[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return attrs;
}

/** The AV1 codec string of `file`'s first video stream, from its sequence header as ffmpeg's trace_headers reads it. */
export async function av1CodecStringOf(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', [
    ...['-hide_banner', '-nostdin', '-v', 'info', '-i', file, '-map', '0:v:0', '-c', 'copy'],
    ...['-bsf:v', 'trace_headers', '-frames:v', '1', '-f', 'null', '-'],
  ]);
  const field = (name: string): number | undefined => {
    const m = new RegExp(`\\s${name.replace(/[[\]]/g, '\\$&')}\\s+[01]+ = (\\d+)`).exec(stderr);
    return m ? Number(m[1]) : undefined;
  };
  const profile = field('seq_profile');
  const level = field('seq_level_idx[0]');
  assert.ok(profile !== undefined && level !== undefined, `no AV1 sequence header in ${file}`);
  // AV1 codec string (AV1-ISOBMFF §a.3): tier is M unless seq_tier is 1; depth 8, 10 or (profile 2) 12.
  // The fields come from the sequence header as ffmpeg reads it; only the string's layout is shared.
  const tier = field('seq_tier[0]') === 1 ? 'H' : 'M';
  const bitDepth = field('high_bitdepth') === 1 ? (profile === 2 && field('twelve_bit') === 1 ? 12 : 10) : 8;
  return av1CodecString({ profile, level, tier, bitDepth });
}

/** ffprobe fields of a file's first stream of one type. */
async function streamInfo(file: string, type: 'a' | 'v', fields: string): Promise<Record<string, string>> {
  const { stdout } = await run('ffprobe', [
    ...[
      '-v',
      'error',
      '-select_streams',
      `${type}:0`,
      '-show_entries',
      `stream=${fields}`,
      '-of',
      'json',
      file,
    ],
  ]);
  return (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams[0] ?? {};
}

/** Times (seconds, input timestamps kept) at which sound starts after silence, by ffmpeg's silencedetect. */
export async function soundOnsets(file: string): Promise<number[]> {
  const { stderr } = await run('ffmpeg', [
    ...['-hide_banner', '-nostdin', '-copyts', '-i', file, '-map', '0:a:0'],
    ...['-af', 'silencedetect=n=-40dB:d=0.1', '-f', 'null', '-'],
  ]);
  return [...stderr.matchAll(/silence_end: (-?[\d.]+)/g)].map((m) => Number(m[1]));
}

/** End (seconds) of the last audio packet of a file. */
async function audioEnd(file: string): Promise<{ start: number; end: number }> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=pts_time,duration_time'],
    ...['-of', 'csv=p=0', file],
  ]);
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => l.split(',').map(Number));
  const last = rows[rows.length - 1]!;
  return { start: rows[0]![0]!, end: last[0]! + last[1]! };
}

/** Bits per second of each segment, from its file size and duration. */
async function segmentRates(dir: string, uris: string[], seconds: number[]): Promise<number[]> {
  const sizes = await Promise.all(uris.map(async (u) => (await stat(path.join(dir, u))).size));
  return sizes.map((size, k) => (size * 8) / seconds[k]!);
}

/**
 * Asserts the master playlist of `dir` describes the files exactly, and that the audio (when the
 * source has some) is AAC-LC, cut into as many segments as the video on the same boundaries (within
 * one AAC frame), as long as the video, and in sync: each onset of sound after silence in the source
 * appears at the same time relative to the first video frame in the output, within half an AAC frame.
 */
export async function checkStreamInfo(dir: string, source: string, video: VideoFacts): Promise<void> {
  const master = await readFile(path.join(dir, 'master.m3u8'), 'utf8');
  const inf = tagAttributes(master, '#EXT-X-STREAM-INF');
  const videoPlaylist = parseMediaPlaylist(await readFile(path.join(dir, 'video.m3u8'), 'utf8'));
  const v = await streamInfo(video.all, 'v', 'width,height,r_frame_rate');
  const sourceAudio = await streamInfo(source, 'a', 'codec_type');
  const hasAudio = sourceAudio.codec_type === 'audio';

  const codecs = [await av1CodecStringOf(video.all)];
  assert.equal(inf.RESOLUTION, `${v.width}x${v.height}`, master);
  // The output's base frame rate as ffprobe finds it from the timestamps (30 for the VFR clip with drops).
  const [rateNum, rateDen] = v.r_frame_rate!.split('/').map(Number) as [number, number];
  assert.equal(inf['FRAME-RATE'], (rateNum / rateDen).toFixed(3), master);

  // Video bit rates from the segment files; the peak ignores a last segment shorter than half the longest.
  const videoRates = await segmentRates(
    dir,
    videoPlaylist.entries.map((e) => e.uri),
    video.segmentSeconds,
  );
  const longest = Math.max(...video.segmentSeconds);
  const videoPeak = Math.max(...videoRates.filter((_, k) => video.segmentSeconds[k]! >= longest / 2));
  const totalBits = videoRates.reduce((t, r, k) => t + r * video.segmentSeconds[k]!, 0);
  const videoAverage = totalBits / video.segmentSeconds.reduce((a, b) => a + b, 0);

  let audioBps = 0;
  if (!hasAudio) {
    assert.doesNotMatch(master, /TYPE=AUDIO/);
  } else {
    const media = tagAttributes(master, '#EXT-X-MEDIA');
    assert.equal(media.TYPE, 'AUDIO', master);
    assert.equal(inf.AUDIO, media['GROUP-ID'], master);
    const allAudio = `${video.all}.audio.mp4`;
    const audioUris = await concatPlaylist(dir, media.URI!, allAudio);
    const audioPlaylist = parseMediaPlaylist(await readFile(path.join(dir, media.URI!), 'utf8'));
    const a = await streamInfo(allAudio, 'a', 'codec_name,profile,sample_rate');
    assert.deepEqual([a.codec_name, a.profile], ['aac', 'LC'], 'the audio is AAC-LC');
    codecs.push('mp4a.40.2'); // MPEG-4 audio, object type 2 = AAC-LC
    const aacFrame = 1024 / Number(a.sample_rate);

    // Segments on the video's boundaries, the whole as long as the video.
    const boundaries = (seconds: number[]) =>
      seconds.map((_, k) => seconds.slice(0, k + 1).reduce((x, y) => x + y));
    const audioSeconds = audioPlaylist.entries.map((e) => e.duration);
    assert.equal(
      audioSeconds.length,
      video.segmentSeconds.length,
      `audio segments ${JSON.stringify(audioSeconds)} for video segments ${JSON.stringify(video.segmentSeconds)}`,
    );
    const va = boundaries(video.segmentSeconds);
    for (const [k, end] of boundaries(audioSeconds).entries())
      assert.ok(
        Math.abs(end - va[k]!) < aacFrame,
        `audio segment ${k} ends at ${end} s, video at ${va[k]} s`,
      );
    const { start, end } = await audioEnd(allAudio);
    assert.equal(start, 0, 'the audio starts at 0, with the video');
    assert.ok(
      Math.abs(end - va[va.length - 1]!) < aacFrame,
      `audio ends at ${end} s, video at ${va.at(-1)} s`,
    );

    // Sync: sound after silence starts at the same time, relative to the first video frame, as in the source.
    const want = (await soundOnsets(source)).map((t) => t - video.videoStart).filter((t) => t > 0.05);
    const got = (await soundOnsets(allAudio)).filter((t) => t > 0.05);
    assert.equal(got.length, want.length, `sound onsets: output ${got}, source ${want}`);
    for (const [i, t] of got.entries())
      assert.ok(
        Math.abs(t - want[i]!) < aacFrame / 2,
        `sound starts at ${t.toFixed(5)} s in the output, ${want[i]!.toFixed(5)} s after the first frame in the source`,
      );

    // The declared AAC rate (esds) bounds the audio segments' real rates; the master adds it to the video's.
    audioBps = Number((await streamInfo(path.join(dir, audioPlaylist.map!), 'a', 'bit_rate')).bit_rate);
    const longestAudio = Math.max(...audioSeconds);
    const audioRates = (await segmentRates(dir, audioUris, audioSeconds)).filter(
      (_, k) => audioSeconds[k]! >= longestAudio / 2,
    );
    assert.ok(Math.max(...audioRates) <= audioBps, `audio segment rates ${audioRates} over ${audioBps}`);
  }
  assert.equal(inf.CODECS, codecs.join(','), master);
  assert.ok(Math.abs(Number(inf.BANDWIDTH) - Math.ceil(videoPeak + audioBps)) <= 1, `BANDWIDTH: ${master}`);
  assert.ok(
    Math.abs(Number(inf['AVERAGE-BANDWIDTH']) - Math.ceil(videoAverage + audioBps)) <= 1,
    `AVERAGE-BANDWIDTH: ${master}`,
  );
}
