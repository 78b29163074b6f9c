import assert from 'node:assert/strict';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { av1CodecString, av1cFields } from '../../src/media/codec-string.js';
import { av1cOf } from '../../src/media/fragment.js';
import { type Av1Hls, makeAv1Hls } from '../helpers/hls-fixture.js';
import { type StaticServer, serveDir } from '../helpers/http-server.js';
import { mseSupport, type PlayerKind, type PlayResult, playHls } from '../helpers/player.js';
import { mediaStalls } from '../helpers/player-checks.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

/** Asserts a clean playback of the whole fixture; prints the result so a failure explains itself. */
function assertPlayedToEnd(result: PlayResult, stream: Av1Hls): void {
  const context = JSON.stringify(result);
  assert.deepEqual(result.errors, [], context);
  assert.equal(result.ended, true, context);
  assert.ok(Math.abs(result.duration - stream.seconds) < 0.1, context);
  assert.ok(result.currentTime >= stream.seconds - 0.1, context);
  // Every frame is decoded (dropped frames are decoded but not shown at 4x).
  assert.ok(Math.abs(result.decodedFrames - stream.frameCount) <= 2, context);
  assert.equal(result.buffered.length, 1, `timeline has holes: ${context}`);
  assert.ok(result.buffered[0]![0] <= 0.05 && result.buffered[0]![1] >= stream.seconds - 0.05, context);
  assert.equal(result.stallsAfterStart, 0, context);
  assert.deepEqual([result.videoWidth, result.videoHeight], [320, 180], context);
  assert.equal(result.hasAudio, true, context);
  assert.ok(result.audioDecodedBytes > 0 && result.videoDecodedBytes > 0, context);
}

describe('playHls on a 4 s AV1 + AAC fMP4 HLS stream', () => {
  let dir: TmpDir;
  let stream: Av1Hls;
  let server: StaticServer;

  before(async () => {
    dir = await tmpDir('player-');
    await mkdir(join(dir.path, 'ok'));
    stream = await makeAv1Hls(join(dir.path, 'ok'));
    server = await serveDir(dir.path);
  });
  after(async () => {
    await server?.close();
    await dir?.cleanup();
  });

  test('the master playlist carries the codec string read from av1C', async () => {
    assert.equal(stream.codecs, 'av01.0.00M.08,mp4a.40.2');
    assert.equal(
      av1CodecString(av1cFields(av1cOf(await readFile(join(dir.path, 'ok', 'init.mp4'))))),
      'av01.0.00M.08',
    );
    // profile 0, level 13 (5.1), high tier, 10-bit
    assert.equal(av1CodecString(av1cFields(Buffer.from([0x81, 13, 0xc0, 0]))), 'av01.0.13H.10');
    const master = await readFile(stream.masterPath, 'utf8');
    assert.match(master, /CODECS="av01\.0\.00M\.08,mp4a\.40\.2"/);
  });

  test("Chromium's MSE accepts AV1 in MP4", async () => {
    const support = await mseSupport([
      'video/mp4; codecs="av01.0.04M.08"',
      `video/mp4; codecs="${stream.codecs}"`,
      'video/mp4; codecs="no-such-codec"',
    ]);
    assert.deepEqual(Object.values(support), [true, true, false]);
  });

  for (const player of ['hlsjs', 'shaka'] as PlayerKind[]) {
    test(`${player} plays every frame to the end with no error`, async () => {
      const result = await playHls(`${server.url}/ok/master.m3u8`, { player, timeoutMs: 40_000 });
      assertPlayedToEnd(result, stream);
      assert.ok(server.requests.some((r) => r.path === '/ok/index1.m4s' && r.status === 200));
    });
  }

  test('a page on another origin plays the stream through CORS', async () => {
    const result = await playHls(`${server.url}/ok/master.m3u8`, {
      player: 'shaka',
      pageOrigin: 'cross-origin',
      timeoutMs: 40_000,
    });
    assertPlayedToEnd(result, stream);
  });

  test('a segment that arrives late is a stall with nothing buffered ahead of the playhead', async () => {
    // Three 2 s segments; the third arrives 7 s late, after playback of the first two has ended.
    await mkdir(join(dir.path, 'late'));
    const late = await makeAv1Hls(join(dir.path, 'late'), { seconds: 6 });
    const slow = await serveDir(dir.path, {
      delayMs: (url) => (url.startsWith('/late/index2.m4s') ? 7_000 : 0),
    });
    try {
      const result = await playHls(`${slow.url}/late/master.m3u8`, { player: 'hlsjs', timeoutMs: 40_000 });
      const context = JSON.stringify(result);
      assert.equal(result.ended, true, context);
      assert.ok(
        slow.requests.some((r) => r.path === '/late/index2.m4s'),
        context,
      );
      const stalls = mediaStalls(result, 1 / 30);
      assert.equal(stalls.length, 1, context);
      const [time, ahead] = stalls[0]!;
      // It waits where the second segment ends, with nothing buffered beyond it.
      assert.ok(Math.abs(time - (2 * late.seconds) / 3) < 0.1 && ahead < 0.05, context);
    } finally {
      await slow.close();
    }
  });

  test('a missing segment is a fatal error within seconds, not a hang', async () => {
    const broken = join(dir.path, 'broken');
    await cp(join(dir.path, 'ok'), broken, { recursive: true });
    await rm(join(broken, 'index1.m4s'));
    for (const player of ['hlsjs', 'shaka'] as PlayerKind[]) {
      const result = await playHls(`${server.url}/broken/master.m3u8`, { player, timeoutMs: 30_000 });
      assert.equal(result.ended, false);
      assert.ok(
        result.errors.some((e) => /fragLoadError|code 1001/.test(e) && e.includes('index1.m4s')),
        JSON.stringify(result.errors),
      );
      assert.ok(result.elapsedMs < 25_000, `${player} took ${result.elapsedMs} ms`);
    }
  });

  test('Shaka fails without CODECS in the master playlist; hls.js rejects a 1-digit AV1 level', async () => {
    const variant = (codecs: string) =>
      `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=320x180${codecs}\nindex.m3u8\n`;
    await writeFile(join(dir.path, 'ok', 'no-codecs.m3u8'), variant(''));
    await writeFile(join(dir.path, 'ok', 'short-level.m3u8'), variant(',CODECS="av01.0.0M.08,mp4a.40.2"'));
    // Without CODECS Shaka assumes avc1.42E01E and its SourceBuffer rejects the AV1 data (error 3014).
    const noCodecs = await playHls(`${server.url}/ok/no-codecs.m3u8`, { player: 'shaka', timeoutMs: 20_000 });
    assert.equal(noCodecs.ended, false);
    assert.ok(
      noCodecs.errors.some((e) => /shaka error 3014/.test(e)),
      JSON.stringify(noCodecs.errors),
    );
    const shortLevel = await playHls(`${server.url}/ok/short-level.m3u8`, {
      player: 'hlsjs',
      timeoutMs: 20_000,
    });
    assert.ok(
      shortLevel.errors.some((e) => /manifestIncompatibleCodecsError/.test(e)),
      JSON.stringify(shortLevel.errors),
    );
  });

  test('a timeout gives a result with an error and closes the browser', async () => {
    const result = await playHls(`${server.url}/ok/master.m3u8`, { player: 'hlsjs', timeoutMs: 1_500 });
    assert.equal(result.ended, false);
    assert.ok(
      result.errors.some((e) => /timeout/.test(e)),
      JSON.stringify(result.errors),
    );
    assert.ok(result.elapsedMs < 15_000, `took ${result.elapsedMs} ms`);
  });
});
