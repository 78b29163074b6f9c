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
import { playHls } from '../helpers/player.js';
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

describe('progressive (EVENT) playlists', () => {
  it('hls.js started after the first segment appears plays the whole stream to the end while encoding continues', async () => {
    const dir = await tmpDir('avspl1t-progressive-');
    try {
      const input = await makeClip(dir.path, CLIP);
      const out = path.join(dir.path, 'out');
      // One task at a time, one segment each: the encode lasts well beyond the first segment.
      const encode = startProgram([
        ...['encode', input, out, '--progressive', '--seconds-per-segment', '1'],
        ...['--preset', '10', '--crf', '40', '--jobs', '1', '--threads', '1', '--ladder', 'single'],
      ]);
      let encodeDone = false;
      const exited = encode.exited.then((code) => {
        encodeDone = true;
        return code;
      });
      // Every state the media playlist goes through, as a player polling it would see it.
      const states: PlaylistState[] = [];
      const watch = (async () => {
        while (!encodeDone) {
          const text = await readIfThere(path.join(out, 'video.m3u8'));
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
      const atStart = playlistState((await readIfThere(path.join(out, 'video.m3u8'))) ?? '');
      const startedWhileEncoding = !encodeDone;
      const server = await serveDir(out);
      try {
        const result = await playHls(`${server.url}/master.m3u8`, { player: 'hlsjs', timeoutMs: 120_000 });
        assert.equal(await exited, 0, encode.output().stderr);
        await watch;
        const reloads = server.requests.filter((r) => r.path === '/video.m3u8').length;
        const final = playlistState(await readFile(path.join(out, 'video.m3u8'), 'utf8'));
        const probed = await probedDuration(path.join(out, 'master.m3u8'));
        const frames = (await decodedFrames(input)).length;
        const what = JSON.stringify({
          atStart,
          states,
          reloads,
          final,
          probed,
          frames,
          ...result,
          warnings: result.warnings.slice(0, 5),
        });
        console.log(what);

        assert.ok(startedWhileEncoding, `the player started while the encode ran: ${what}`);
        assert.equal(atStart.type, 'EVENT', `EVENT playlist when the player started: ${what}`);
        assert.equal(atStart.ended, false, what);
        assert.ok(atStart.segments < 16, `only a prefix was published then: ${what}`);
        // hls.js reloads only a playlist without EXT-X-ENDLIST: it loaded the EVENT one and followed it.
        assert.ok(reloads >= 2, `hls.js reloaded the growing playlist: ${what}`);
        // The playlist only grew, as EVENT, and became VOD once at the end.
        states.forEach((s, i) => {
          if (i > 0) assert.ok(s.segments >= states[i - 1]!.segments, `playlists only grow: ${what}`);
          if (i < states.length - 1) assert.equal(s.type, 'EVENT', what);
        });
        assert.ok(states.filter((s) => s.type === 'EVENT').length >= 2, `it grew while encoding: ${what}`);
        assert.deepEqual(final, { type: 'VOD', segments: 16, ended: true }, what);

        assert.deepEqual(result.errors, [], `no hls.js fatal or page error: ${what}`);
        assert.equal(result.ended, true, what);
        assert.ok(Math.abs(result.currentTime - probed) < 0.1, `played to the end (${probed} s): ${what}`);
        assert.equal(result.buffered.length, 1, `one buffered range: ${what}`);
        assert.equal(result.decodedFrames, frames, `every frame decoded once: ${what}`);
        // Waiting at the newest segment while the encode catches up is expected (stallTimes, warnings).
        assert.ok(result.hasAudio && result.audioDecodedBytes > 0, `audio played: ${what}`);

        // The final output passes the media checks every encode does.
        const report = await checkOutput(out, input);
        assert.equal(report.frames, frames);
      } finally {
        await server.close();
      }
    } finally {
      await dir.cleanup();
    }
  });
});
