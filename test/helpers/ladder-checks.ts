// Checks on a rendition ladder output against its source, every expected value
// read from the files by ffmpeg/ffprobe (never by src/media): each rung decodes
// without errors to the source's frames at the source's times, at its declared
// codec and size; all rungs share their key frame times and segment durations;
// BANDWIDTH / AVERAGE-BANDWIDTH are within 10 % of what the segments measure
// (audio included); every playlist has the same target duration; each I-frame
// playlist's byte ranges hold exactly one key frame each.
import assert from 'node:assert/strict';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cli } from '../cli/processes.js';
import { run } from './exec.js';
import { decodedFrames, decodeErrors, videoPackets } from './frames.js';
import { av1CodecStringOf } from './stream-checks.js';

export interface Variant {
  attrs: Record<string, string>;
  uri: string;
}

export interface RungReport {
  uri: string;
  codecs: string;
  frames: number;
  segments: number;
  /** Measured video + audio bit rates (bits per second) and the declared ones. */
  measuredPeak: number;
  measuredAverage: number;
  bandwidth: number;
  averageBandwidth: number;
}

/** Attributes of a tag line's value (`A=1,B="x,y"`). */
function attributes(value: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of value.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return attrs;
}

/** The variants (EXT-X-STREAM-INF + URI line), I-frame variants and audio renditions of a master playlist. */
export function parseMaster(text: string): { variants: Variant[]; iFrames: Variant[]; audio: Variant[] } {
  const lines = text.split('\n');
  const variants: Variant[] = [];
  const iFrames: Variant[] = [];
  const audio: Variant[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('#EXT-X-STREAM-INF:'))
      variants.push({ attrs: attributes(line.slice(18)), uri: lines[i + 1]!.trim() });
    if (line.startsWith('#EXT-X-I-FRAME-STREAM-INF:')) {
      const attrs = attributes(line.slice(26));
      iFrames.push({ attrs, uri: attrs.URI! });
    }
    if (line.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')) {
      const attrs = attributes(line.slice(13));
      audio.push({ attrs, uri: attrs.URI! });
    }
  });
  return { variants, iFrames, audio };
}

interface MediaPlaylist {
  target: number;
  map: string;
  entries: { uri: string; duration: number; range?: { offset: number; length: number } }[];
  tags: string[];
}

/** Parses a media or I-frame playlist (test-side, independent of src/media/hls.ts). */
async function readPlaylist(file: string): Promise<MediaPlaylist> {
  const text = await readFile(file, 'utf8');
  const out: MediaPlaylist = { target: 0, map: '', entries: [], tags: [] };
  let duration: number | undefined;
  let range: { offset: number; length: number } | undefined;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line) continue;
    if (line.startsWith('#')) out.tags.push(line.split(':')[0]!);
    if (line.startsWith('#EXT-X-TARGETDURATION:')) out.target = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MAP:')) out.map = /URI="([^"]+)"/.exec(line)![1]!;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line.startsWith('#EXT-X-BYTERANGE:')) {
      const [length, offset] = line.slice(17).split('@').map(Number) as [number, number];
      range = { offset, length };
    } else if (!line.startsWith('#')) {
      out.entries.push({ uri: line, duration: duration!, range });
      duration = undefined;
      range = undefined;
    }
  }
  return out;
}

/** Concatenates a playlist's init and segments into one file; returns each segment's size. */
async function concat(dir: string, p: MediaPlaylist, out: string): Promise<number[]> {
  const segs = await Promise.all(p.entries.map((e) => readFile(path.join(dir, e.uri))));
  await writeFile(out, Buffer.concat([await readFile(path.join(dir, p.map)), ...segs]));
  return segs.map((b) => b.length);
}

/** The avc1 codec string from the SPS as ffmpeg's trace_headers reads it. */
async function avcCodecStringOf(file: string): Promise<string> {
  const { stderr } = await run('ffmpeg', [
    ...['-hide_banner', '-nostdin', '-v', 'info', '-i', file, '-map', '0:v:0', '-c', 'copy'],
    ...['-bsf:v', 'trace_headers', '-frames:v', '1', '-f', 'null', '-'],
  ]);
  const field = (name: string) => Number(new RegExp(`\\s${name}\\s+[01]+ = (\\d+)`).exec(stderr)?.[1]);
  const flags = [0, 1, 2, 3, 4, 5].reduce((b, i) => b | (field(`constraint_set${i}_flag`) << (7 - i)), 0);
  const hex = (n: number) => n.toString(16).padStart(2, '0').toUpperCase();
  return `avc1.${hex(field('profile_idc'))}${hex(flags)}${hex(field('level_idc'))}`;
}

/** Peak (segments of at least half the longest) and average bit rate of segments. */
function rates(sizes: number[], seconds: number[]): { peak: number; average: number } {
  const longest = Math.max(...seconds);
  const peak = Math.max(...sizes.map((s, k) => (seconds[k]! >= longest / 2 ? (s * 8) / seconds[k]! : 0)));
  const average = (sizes.reduce((a, b) => a + b, 0) * 8) / seconds.reduce((a, b) => a + b, 0);
  return { peak, average };
}

/** Asserts the ladder output in `dir` (master.m3u8) against `source`; returns what each rung measured. */
export async function checkLadderOutput(dir: string, source: string): Promise<RungReport[]> {
  const master = await readFile(path.join(dir, 'master.m3u8'), 'utf8');
  const { variants, iFrames, audio } = parseMaster(master);
  assert.ok(master.includes('#EXT-X-INDEPENDENT-SEGMENTS'), master);
  assert.ok(variants.length >= 2, `several rungs: ${master}`);
  // H.264 first, so a player that takes the first variant without reading CODECS decodes it.
  const kinds = variants.map((v) => (v.attrs.CODECS!.startsWith('avc1') ? 'h264' : 'av1'));
  assert.deepEqual(kinds, [...kinds].sort().reverse(), `H.264 variants before AV1: ${master}`);
  assert.ok(kinds.includes('h264') && kinds.includes('av1'), master);

  const src = await decodedFrames(source);
  const src0 = src[0]!.time;
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=pix_fmt', '-of', 'csv=p=0', source],
  ]);
  const tenBit = /10le|10be|p010/.test(stdout);

  // Audio: measured from its segment files.
  let audioRates = { peak: 0, average: 0 };
  const targets: number[] = [];
  if (audio.length > 0) {
    assert.equal(audio.length, 1, 'one audio rendition');
    const a = await readPlaylist(path.join(dir, audio[0]!.uri));
    const aDir = path.dirname(path.join(dir, audio[0]!.uri));
    const sizes = await Promise.all(a.entries.map(async (e) => (await stat(path.join(aDir, e.uri))).size));
    audioRates = rates(
      sizes,
      a.entries.map((e) => e.duration),
    );
    targets.push(a.target);
    for (const v of variants) assert.equal(v.attrs.AUDIO, audio[0]!.attrs['GROUP-ID'], master);
  }

  const reports: RungReport[] = [];
  let keyTimes: number[] | undefined;
  let durations: number[] | undefined;
  for (const v of variants) {
    const file = path.join(dir, v.uri);
    const rungDir = path.dirname(file);
    const p = await readPlaylist(file);
    targets.push(p.target);
    const all = `${file}.all.mp4`;
    const sizes = await concat(rungDir, p, all);

    const errors = await decodeErrors(all);
    assert.equal(errors, '', `${v.uri}: decode errors: ${errors}`);
    const { stdout: info } = await run('ffprobe', [
      ...[
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=codec_name,profile,width,height,pix_fmt',
      ],
      ...['-of', 'json', all],
    ]);
    const s = JSON.parse(info).streams[0] as Record<string, string | number>;
    const h264 = v.attrs.CODECS!.startsWith('avc1');
    assert.equal(s.codec_name, h264 ? 'h264' : 'av1', v.uri);
    assert.equal(v.attrs.RESOLUTION, `${s.width}x${s.height}`, v.uri);
    if (h264) assert.deepEqual([s.profile, s.pix_fmt], ['High', 'yuv420p'], `${v.uri}: 8-bit High`);
    else assert.equal(s.pix_fmt, tenBit ? 'yuv420p10le' : 'yuv420p', `${v.uri}: bit depth kept`);
    const codec = h264 ? await avcCodecStringOf(all) : await av1CodecStringOf(all);
    assert.equal(v.attrs.CODECS, audio.length ? `${codec},mp4a.40.2` : codec, v.uri);

    // The source's frames at the source's times: one continuous timeline.
    const out = await decodedFrames(all);
    assert.equal(out.length, src.length, `${v.uri}: frame count equals the source's`);
    for (let i = 0; i < out.length; i++)
      assert.ok(
        Math.abs(out[i]!.time - (src[i]!.time - src0)) < 1e-6,
        `${v.uri} frame ${i}: at ${out[i]!.time}s, source at ${src[i]!.time - src0}s`,
      );

    // Key frames: each segment starts with one; the same times in every rung.
    const pk = await videoPackets(all);
    const keys = pk.filter((x) => x.key).map((x) => x.pts);
    if (keyTimes) assert.deepEqual(keys, keyTimes, `${v.uri}: key frame times of the first rung`);
    keyTimes = keys;
    const seconds = p.entries.map((e) => e.duration);
    if (durations) assert.deepEqual(seconds, durations, `${v.uri}: segment durations of the first rung`);
    durations = seconds;
    let at = 0;
    for (const [k, e] of p.entries.entries()) {
      assert.ok(
        keys.some((t) => Math.abs(t - at) < 1e-6),
        `${v.uri}: segment ${k} starts on a key frame (${at}s)`,
      );
      at += e.duration;
    }

    // Bandwidths: within 10 % of the measured peak and average (video + audio), peak at most twice the average.
    const video = rates(sizes, seconds);
    const measuredPeak = video.peak + audioRates.peak;
    const measuredAverage = video.average + audioRates.average;
    const bandwidth = Number(v.attrs.BANDWIDTH);
    const averageBandwidth = Number(v.attrs['AVERAGE-BANDWIDTH']);
    assert.ok(
      Math.abs(bandwidth - measuredPeak) <= 0.1 * measuredPeak,
      `${v.uri}: BANDWIDTH ${bandwidth}, measured ${measuredPeak}`,
    );
    assert.ok(
      Math.abs(averageBandwidth - measuredAverage) <= 0.1 * measuredAverage,
      `${v.uri}: AVERAGE-BANDWIDTH ${averageBandwidth}, measured ${measuredAverage}`,
    );
    assert.ok(
      measuredPeak <= 2 * measuredAverage,
      `${v.uri}: peak ${measuredPeak} over twice the average ${measuredAverage}`,
    );

    // Its I-frame playlist: one byte range per segment, each exactly one key frame.
    const iFrame = iFrames.find((f) => path.dirname(f.uri) === path.dirname(v.uri));
    assert.ok(iFrame, `${v.uri}: an EXT-X-I-FRAME-STREAM-INF`);
    assert.equal(iFrame.attrs.RESOLUTION, v.attrs.RESOLUTION);
    const ip = await readPlaylist(path.join(dir, iFrame.uri));
    assert.ok(ip.tags.includes('#EXT-X-I-FRAMES-ONLY') && ip.map, iFrame.uri);
    assert.equal(ip.entries.length, p.entries.length, iFrame.uri);
    const init = await readFile(path.join(rungDir, ip.map));
    for (const [k, e] of ip.entries.entries()) {
      assert.ok(e.range, `${iFrame.uri} entry ${k} has a byte range`);
      const fh = await open(path.join(rungDir, e.uri));
      const bytes = Buffer.alloc(e.range.length);
      await fh.read(bytes, 0, e.range.length, e.range.offset);
      await fh.close();
      const one = `${all}.iframe${k}.mp4`;
      await writeFile(one, Buffer.concat([init, bytes]));
      const ipk = await videoPackets(one);
      assert.equal(ipk.length, 1, `${iFrame.uri} entry ${k}: one frame`);
      assert.ok(ipk[0]!.key, `${iFrame.uri} entry ${k}: a key frame`);
    }
    reports.push({
      uri: v.uri,
      codecs: v.attrs.CODECS!,
      frames: out.length,
      segments: p.entries.length,
      measuredPeak,
      measuredAverage,
      bandwidth,
      averageBandwidth,
    });
  }
  assert.equal(new Set(targets).size, 1, `one target duration in every playlist: ${targets}`);
  return reports;
}

/**
 * `avspl1t encode` of `input` into `out` with the default ladder at the media tests'
 * settings (1 s segments, SVT preset 12, 2 local workers), checked by
 * checkLadderOutput: each rung's report and the master playlist.
 */
export async function encodeLadder(
  input: string,
  out: string,
): Promise<{ rungs: RungReport[]; master: ReturnType<typeof parseMaster> }> {
  const r = await cli(
    ['encode', input, out, '--seconds-per-segment', '1', '--preset', '12', '--jobs', '2'],
    300_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const rungs = await checkLadderOutput(out, input);
  return { rungs, master: parseMaster(await readFile(path.join(out, 'master.m3u8'), 'utf8')) };
}
