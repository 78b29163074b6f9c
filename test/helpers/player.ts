/**
 * Plays an HLS master playlist to the end in headless Chromium with hls.js or Shaka Player and reports
 * what a viewer would have seen: errors, decoded frames, buffered ranges, stalls, size and audio.
 * The browser is always closed, and a timeout gives a result with an error rather than a throw.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { type Browser, chromium, type Page, errors as playwrightErrors } from 'playwright-core';
import { serveDir } from './http-server.js';
import { type PageSnapshot, playerPageHtml } from './player-page.js';
import { tmpDir } from './tmp.js';

/** Which JavaScript player to use. */
export type PlayerKind = 'hlsjs' | 'shaka';

/** Options for {@link playHls}. */
export interface PlayOptions {
  player: PlayerKind;
  /** Whole budget: browser start, load and playback. Default 60 000 ms. */
  timeoutMs?: number;
  /** `video.playbackRate`; default 1: at higher rates a loaded machine can skip the last frame (seen with Shaka at 4x). */
  playbackRate?: number;
  /**
   * Where the player page comes from. `'stream'` (default): intercepted at the master playlist's own
   * origin, so no CORS is needed. `'cross-origin'`: a different origin, so the stream's server must send CORS.
   */
  pageOrigin?: 'stream' | 'cross-origin';
  /** The page says AV1 is not supported (MSE, canPlayType, MediaCapabilities), as on a device without it. */
  hideAv1?: boolean;
  /** hls.js: load each fragment from a level not loaded yet (`loadLevel`, manual), through every rung. */
  cycleLevels?: boolean;
}

/** What happened during one playback. */
export interface PlayResult {
  player: PlayerKind;
  /** The `ended` event fired. */
  ended: boolean;
  /** Fatal player errors, MediaError, page errors, console errors and a timeout, as text. Empty when clean. */
  errors: string[];
  /** Non-fatal player errors (hls.js recovers from these; Shaka severity 1). */
  warnings: string[];
  /** `video.duration` in seconds (NaN if never loaded). */
  duration: number;
  /** `video.currentTime` when playback ended or was given up. */
  currentTime: number;
  /** The playback rate in effect at the end. */
  playbackRate: number;
  /** `getVideoPlaybackQuality().totalVideoFrames`. */
  decodedFrames: number;
  /** `getVideoPlaybackQuality().droppedVideoFrames`. */
  droppedFrames: number;
  /** `video.buffered` at the end, as [start, end] seconds; one range means no holes in the timeline. */
  buffered: Array<[number, number]>;
  /** Every `waiting` event, including the one at start-up. */
  waitingEvents: number;
  /** `waiting` events after playback first started: real stalls. */
  stallsAfterStart: number;
  /** `currentTime` at each `waiting` after start. */
  stallTimes: number[];
  /** At each `waiting` after start: seconds buffered ahead of `currentTime` (0 outside every range). */
  stallBufferedAhead: number[];
  videoWidth: number;
  videoHeight: number;
  /** MIME types of the SourceBuffers the player created, e.g. `video/mp4; codecs="av01.0.00M.08,mp4a.40.2"`. */
  sourceBufferTypes: string[];
  /** An audio codec was among the SourceBuffer types. */
  hasAudio: boolean;
  /** Chromium's `webkitAudioDecodedByteCount` (-1 if unavailable). */
  audioDecodedBytes: number;
  /** Chromium's `webkitVideoDecodedByteCount`: the same at every playback rate when no frame is skipped. */
  videoDecodedBytes: number;
  /** Milliseconds from page load to the first `playing` event, or null. */
  firstPlayingMs: number | null;
  /** hls.js: the level of each fragment that played ("<height>p <video codec>"). */
  levelsPlayed: string[];
  /** hls.js: the levels it kept from the master playlist. */
  levels: string[];
  /** Shaka: the trick-play (I-frame) stream of each variant. */
  trickModeTracks: string[];
  /** Video codec of the variant playing at the end. */
  finalVideoCodec: string;
  /** Shaka: each `adaptation`, `variantchanged`, `stalldetected`, `gapjumped` event: playhead, frames decoded so far, variant. */
  shakaEvents: string[];
  /** Shaka: `getStats().switchHistory`, seconds after load, `abr` or `chosen`, and the variant. */
  switchHistory: string[];
  /** Each append to or remove from the video SourceBuffer: last video segment fetched, playhead, ranges before → after. */
  videoBufferUpdates: string[];
  /** Each `seeking` event: the target and the frames decoded so far; a seek makes Chromium decode frames again. */
  seeks: string[];
  /** Wall-clock milliseconds for the whole call. */
  elapsedMs: number;
}

/** Chromium flags for this machine: headless as root, and no background traffic to a closed network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
  '--mute-audio',
];

/** Debian's Chromium; Playwright's own browser download does not work here. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Launches the system Chromium with {@link CHROMIUM_ARGS}. The caller closes it. */
export function launchChromium(timeoutMs = 30_000): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: timeoutMs });
}

const require = createRequire(import.meta.url);

/** Files on disk of the player builds, for serving them (e.g. as `serveDir` routes). */
export const PLAYER_SCRIPTS: Record<PlayerKind, string> = {
  hlsjs: require.resolve('hls.js/dist/hls.min.js'),
  shaka: require.resolve('shaka-player/dist/shaka-player.compiled.js'),
};

/** URL paths under which the page and scripts are served (chosen not to clash with a stream's files). */
const PAGE_PATH = '/__avspl1t_player__/index.html';
const SCRIPT_PATHS: Record<PlayerKind, string> = {
  hlsjs: '/__avspl1t_player__/hls.min.js',
  shaka: '/__avspl1t_player__/shaka-player.compiled.js',
};

/** Routes for `serveDir` that serve a player page and both player builds under `/__avspl1t_player__/`. */
export function playerRoutes(
  player: PlayerKind,
): Record<string, string | { body: string; contentType: string }> {
  return {
    [PAGE_PATH]: { body: playerPageHtml(SCRIPT_PATHS[player]), contentType: 'text/html; charset=utf-8' },
    [SCRIPT_PATHS.hlsjs]: PLAYER_SCRIPTS.hlsjs,
    [SCRIPT_PATHS.shaka]: PLAYER_SCRIPTS.shaka,
  };
}

const EMPTY: PageSnapshot = {
  done: false,
  ended: false,
  errors: [],
  warnings: [],
  duration: Number.NaN,
  currentTime: Number.NaN,
  playbackRate: Number.NaN,
  decodedFrames: 0,
  droppedFrames: 0,
  buffered: [],
  waitingEvents: 0,
  stallsAfterStart: 0,
  stallTimes: [],
  stallBufferedAhead: [],
  videoWidth: 0,
  videoHeight: 0,
  sourceBufferTypes: [],
  audioDecodedBytes: -1,
  videoDecodedBytes: -1,
  firstPlayingMs: null,
  levelsPlayed: [],
  levels: [],
  trickModeTracks: [],
  finalVideoCodec: '',
  shakaEvents: [],
  switchHistory: [],
  videoBufferUpdates: [],
  seeks: [],
};

/** Plays `masterUrl` from start to end, muted, and reports what happened. Never throws. */
export async function playHls(masterUrl: string, options: PlayOptions): Promise<PlayResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const rate = options.playbackRate ?? 1;
  const remaining = () => Math.max(1, timeoutMs - (Date.now() - started));
  const hostErrors: string[] = [];
  let snapshot: PageSnapshot = EMPTY;
  let browser: Browser | undefined;
  let closeServer: (() => Promise<void>) | undefined;
  try {
    browser = await launchChromium(remaining());
    const page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') hostErrors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => hostErrors.push(`page error: ${error.message}`));
    page.on('crash', () => hostErrors.push('page crashed'));

    let pageUrl: string;
    if (options.pageOrigin === 'cross-origin') {
      const empty = await tmpDir('avspl1t-player-');
      const server = await serveDir(empty.path, { routes: playerRoutes(options.player) });
      closeServer = async () => {
        await server.close();
        await empty.cleanup();
      };
      pageUrl = server.url + PAGE_PATH;
    } else {
      pageUrl = await routePageAtOrigin(page, masterUrl, options.player);
    }

    await page.goto(pageUrl, { timeout: remaining(), waitUntil: 'load' });
    await page.evaluate(
      `void window.__avspl1tStart(${JSON.stringify(masterUrl)}, ${JSON.stringify(options.player)}, ${rate}, ${JSON.stringify({ hideAv1: options.hideAv1 ?? false, cycleLevels: options.cycleLevels ?? false })})`,
    );
    try {
      await page.waitForFunction('window.__avspl1t.done === true', undefined, {
        timeout: remaining(),
        polling: 100,
      });
    } catch {
      hostErrors.push(`timeout: playback did not end within ${timeoutMs} ms`);
    }
    const read = () =>
      withTimeout(
        page.evaluate('window.__avspl1tSnapshot()') as Promise<PageSnapshot>,
        5_000,
        'reading player state',
      );
    snapshot = await read();
    // Chromium updates the decoded-frame count from its media thread, a little after `ended` on a
    // loaded machine: read until it holds still (at most 2 s) so the count is the final one.
    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const next = await read();
      const settled = next.decodedFrames === snapshot.decodedFrames;
      snapshot = next;
      if (settled) break;
    }
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const timedOut = error instanceof playwrightErrors.TimeoutError || remaining() <= 1;
    hostErrors.push(timedOut ? `timeout: gave up after ${timeoutMs} ms (${message})` : `playHls: ${message}`);
  } finally {
    await withTimeout(browser?.close() ?? Promise.resolve(), 10_000, 'closing Chromium').catch(() => {});
    await closeServer?.();
  }
  const { done: _done, ...rest } = snapshot;
  return {
    ...rest,
    player: options.player,
    errors: [...snapshot.errors, ...collapseRepeats(hostErrors)],
    hasAudio: snapshot.sourceBufferTypes.some((type) => /audio\/|mp4a|opus|ac-3|ec-3|flac/i.test(type)),
    elapsedMs: Date.now() - started,
  };
}

/** Serves the player page at the stream's own origin through request interception; returns its URL. */
async function routePageAtOrigin(page: Page, masterUrl: string, player: PlayerKind): Promise<string> {
  const origin = new URL(masterUrl).origin;
  const routes = playerRoutes(player);
  await page.route(
    (url) => url.origin === origin && url.pathname in routes,
    async (route) => {
      const target = routes[new URL(route.request().url()).pathname]!;
      if (typeof target === 'string') {
        await route.fulfill({ body: await readFile(target), contentType: 'text/javascript; charset=utf-8' });
      } else {
        await route.fulfill({ body: target.body, contentType: target.contentType });
      }
    },
  );
  return origin + PAGE_PATH;
}

/**
 * Asks Chromium's `MediaSource.isTypeSupported` about each MIME type, e.g.
 * `video/mp4; codecs="av01.0.04M.08"`. Useful to tell "this browser can't" from "our stream is wrong".
 */
export async function mseSupport(types: string[]): Promise<Record<string, boolean>> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const answers = (await page.evaluate(
      `${JSON.stringify(types)}.map((t) => window.MediaSource ? MediaSource.isTypeSupported(t) : false)`,
    )) as boolean[];
    return Object.fromEntries(types.map((type, i) => [type, answers[i] ?? false]));
  } finally {
    await browser.close();
  }
}

/** Turns repeated messages (Chromium logs every failed request) into one line with a count. */
function collapseRepeats(messages: string[]): string[] {
  const counts = new Map<string, number>();
  for (const message of messages) counts.set(message, (counts.get(message) ?? 0) + 1);
  return [...counts].map(([message, count]) => (count > 1 ? `${message} (x${count})` : message));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
