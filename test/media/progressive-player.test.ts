// Watch while it encodes: `avspl1t encode --progressive` publishes EVENT
// playlists as soon as the first segment and the audio are done; hls.js started
// then, in Chromium, plays the whole stream to the end while the encode goes on,
// on one buffered range, and the final playlists are VOD and pass the media checks.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProgram, stopAll } from '../cli/processes.js';
import { type ClipSpec, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';
import { decodedFrames } from '../helpers/frames.js';
import { serveDir } from '../helpers/http-server.js';
import { checkOutput } from '../helpers/media-checks.js';
import { type PlayOptions, type PlayResult, playHls } from '../helpers/player.js';
import { tmpDir } from '../helpers/tmp.js';

/** 16 s at 320x180 30 fps with AAC audio, a key frame every second. */
const CLIP: ClipSpec = {
  name: 'progressive',
  ext: 'mp4',
  args: [
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=16'],
    // Silence with a 440 Hz burst at 2.002 s (as the clips of test/helpers/clips.ts): the media checks find it.
    ...['-f', 'lavfi', '-i', 'aevalsrc=0.5*sin(2*PI*440*t)*gte(t\\,2.002)*lt(t\\,2.502):s=48000:d=16'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-c:a', 'aac'],
  ],
};

/** One state of the media playlist on disk: its type and how many segments it lists. */
interface PlaylistState {
  type: string;
  segments: number;
  ended: boolean;
}

function playlistState(text: string): PlaylistState {
  return {
    type: /#EXT-X-PLAYLIST-TYPE:(\w+)/.exec(text)?.[1] ?? '',
    segments: text.split('\n').filter((l) => l.startsWith('#EXTINF:')).length,
    ended: text.includes('#EXT-X-ENDLIST'),
  };
}

/** The playlist's text, or undefined while it does not exist. */
async function readIfThere(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch(() => undefined);
}

/** ffprobe's duration (seconds) of the stream the master playlist names. */
async function probedDuration(master: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=duration',
    '-of',
    'csv=p=0',
    master,
  ]);
  return Number.parseFloat(stdout);
}

after(stopAll);

/** What one progressive encode watched by hls.js gave. */
interface Watched {
  input: string;
  out: string;
  /** The watched media playlist when the master playlist first appeared, and every state after. */
  atStart: PlaylistState;
  states: PlaylistState[];
  startedWhileEncoding: boolean;
  /** Requests of media playlists (any rung): hls.js reloads only one without EXT-X-ENDLIST. */
  reloads: number;
  final: PlaylistState;
  /** ffprobe's duration of the final output and the source's decoded frames. */
  probed: number;
  frames: number;
  result: PlayResult;
  what: string;
}

/**
 * Runs `avspl1t encode --progressive` with `args` on `clip`, starts hls.js as
 * soon as the master playlist appears, and plays it to the end while the encode
 * goes on; `playlist` is the media playlist to follow (relative to the output).
 */
async function encodeAndWatch(
  dir: string,
  args: string[],
  playlist: string,
  play: Partial<PlayOptions> = {},
): Promise<Watched> {
  const input = await makeClip(dir, CLIP);
  const out = path.join(dir, 'out');
  const encode = startProgram(['encode', input, out, '--progressive', '--seconds-per-segment', '1', ...args]);
  let encodeDone = false;
  const exited = encode.exited.then((code) => {
    encodeDone = true;
    return code;
  });
  // Every state the media playlist goes through, as a player polling it would see it.
  const states: PlaylistState[] = [];
  const watch = (async () => {
    while (!encodeDone) {
      const text = await readIfThere(path.join(out, playlist));
      const s = text ? playlistState(text) : undefined;
      const last = states.at(-1);
      if (s && (!last || s.segments !== last.segments || s.type !== last.type)) states.push(s);
      await sleep(50);
    }
  })();
  while (!(await readIfThere(path.join(out, 'master.m3u8')))) {
    assert.equal(encodeDone, false, `encode ended before any playlist: ${encode.output().stderr}`);
    await sleep(50);
  }
  const atStart = playlistState((await readIfThere(path.join(out, playlist))) ?? '');
  const startedWhileEncoding = !encodeDone;
  const server = await serveDir(out);
  try {
    const result = await playHls(`${server.url}/master.m3u8`, {
      player: 'hlsjs',
      timeoutMs: 180_000,
      ...play,
    });
    assert.equal(await exited, 0, encode.output().stderr);
    await watch;
    const reloads = server.requests.filter((r) => r.path.endsWith('/video.m3u8')).length;
    const final = playlistState(await readFile(path.join(out, playlist), 'utf8'));
    const probed = await probedDuration(path.join(out, 'master.m3u8'));
    const frames = (await decodedFrames(input)).length;
    const facts = { atStart, states, startedWhileEncoding, reloads, final, probed, frames };
    const what = JSON.stringify({ ...facts, ...result, warnings: result.warnings.slice(0, 5) });
    console.log(what);
    return { input, out, ...facts, result, what };
  } finally {
    await server.close();
  }
}

/** The assertions every progressive playback must pass. */
function assertWatchedToTheEnd(w: Watched, segments: number): void {
  const { result, what } = w;
  assert.ok(w.startedWhileEncoding, `the player started while the encode ran: ${what}`);
  assert.equal(w.atStart.type, 'EVENT', `EVENT playlist when the player started: ${what}`);
  assert.equal(w.atStart.ended, false, what);
  assert.ok(w.atStart.segments < segments, `only a prefix was published then: ${what}`);
  // hls.js reloads only a playlist without EXT-X-ENDLIST: it loaded the EVENT one and followed it.
  assert.ok(w.reloads >= 2, `hls.js reloaded the growing playlist: ${what}`);
  // The playlist only grew, as EVENT, and became VOD once at the end.
  w.states.forEach((s, i) => {
    if (i > 0) assert.ok(s.segments >= w.states[i - 1]!.segments, `playlists only grow: ${what}`);
    if (i < w.states.length - 1) assert.equal(s.type, 'EVENT', what);
  });
  assert.ok(w.states.filter((s) => s.type === 'EVENT').length >= 2, `it grew while encoding: ${what}`);
  assert.deepEqual(w.final, { type: 'VOD', segments, ended: true }, what);

  assert.deepEqual(result.errors, [], `no hls.js fatal or page error: ${what}`);
  assert.equal(result.ended, true, what);
  assert.ok(Math.abs(result.currentTime - w.probed) < 0.1, `played to the end (${w.probed} s): ${what}`);
  assert.equal(result.buffered.length, 1, `one buffered range: ${what}`);
  assert.equal(result.decodedFrames, w.frames, `every frame decoded once: ${what}`);
  // Waiting at the newest segment while the encode catches up is expected (stallTimes, warnings).
  assert.ok(result.hasAudio && result.audioDecodedBytes > 0, `audio played: ${what}`);
}

describe('progressive (EVENT) playlists', { concurrency: 1 }, () => {
  it('hls.js started after the first segment appears plays the whole stream to the end while encoding continues', async () => {
    const dir = await tmpDir('avspl1t-progressive-');
    try {
      // One task at a time, one segment each: the encode lasts well beyond the first segment.
      const args = ['--preset', '10', '--crf', '40', '--jobs', '1', '--threads', '1', '--ladder', 'single'];
      const w = await encodeAndWatch(dir.path, args, 'video.m3u8');
      assertWatchedToTheEnd(w, 16);
      // The final output passes the media checks every encode does.
      const report = await checkOutput(w.out, w.input);
      assert.equal(report.frames, w.frames);
    } finally {
      await dir.cleanup();
    }
  });

  it('a ladder: hls.js started on the first EVENT master plays to the end on one range while every rung grows', async () => {
    const dir = await tmpDir('avspl1t-progressive-ladder-');
    try {
      const args = ['--preset', '12', '--crf', '40', '--jobs', '2', '--threads', '1', '--ladder', 'default'];
      // hls.js picks its level (forcing a switch at every fragment near the live edge replayed
      // stretches in one run: not investigated, see the issue 18 report).
      const w = await encodeAndWatch(dir.path, args, 'av1-180p/video.m3u8');
      assert.equal(w.result.levels.length, 4, `the four rungs are in the EVENT master: ${w.result.levels}`);
      assertWatchedToTheEnd(w, 16);
      const report = await checkOutput(w.out, w.input);
      assert.equal(report.rungs?.length, 4);
    } finally {
      await dir.cleanup();
    }
  });
});
