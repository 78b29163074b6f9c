/**
 * The HTML page that {@link playHls} loads in Chromium: it loads one player script, plays a master
 * playlist into a muted <video>, and keeps everything it sees in `window.__avspl1t` for Node to read.
 * Plain browser JavaScript in a string, so that tsc does not need browser types or touch it.
 */

/** What the page stores in `window.__avspl1t` and returns from `__avspl1tSnapshot()`. */
export interface PageSnapshot {
  done: boolean;
  ended: boolean;
  errors: string[];
  warnings: string[];
  duration: number;
  currentTime: number;
  playbackRate: number;
  decodedFrames: number;
  droppedFrames: number;
  buffered: Array<[number, number]>;
  waitingEvents: number;
  stallsAfterStart: number;
  /** `currentTime` at each `waiting` after start. */
  stallTimes: number[];
  /** At each `waiting` after start: seconds buffered ahead of `currentTime` (0 outside every range). */
  stallBufferedAhead: number[];
  videoWidth: number;
  videoHeight: number;
  sourceBufferTypes: string[];
  audioDecodedBytes: number;
  videoDecodedBytes: number;
  firstPlayingMs: number | null;
  /** hls.js: the level of each fragment that played ("<height>p <video codec>"), in order. */
  levelsPlayed: string[];
  /** hls.js: the levels it kept from the master playlist ("<height>p <video codec>"). */
  levels: string[];
  /** Shaka: each video variant it kept and its trick-play (I-frame) stream ("320x180 avc1.64000D => 320x180 avc1.64000D", "=> none"). */
  trickModeTracks: string[];
  /** The video codec of the variant playing at the end (hls.js level, Shaka active track). */
  finalVideoCodec: string;
  /**
   * Shaka: each `adaptation`, `variantchanged`, `stalldetected` and `gapjumped` event with the playhead,
   * the frames decoded so far and the active variant ("adaptation at 1.335 s, 40 decoded: 160x90 avc1.64000B").
   */
  shakaEvents: string[];
  /** Shaka: `getStats().switchHistory` ("+0.52 s abr 160x90 avc1.64000B", seconds after load). */
  switchHistory: string[];
  /**
   * Every change to the video SourceBuffer (append or remove), with the last video segment fetched
   * and the playhead: "h264-90p/seg-00003.m4s at 1.201 s: [0.000,1.502] → [0.000,2.002]".
   */
  videoBufferUpdates: string[];
  /** Each `seeking` event: the target and the frames decoded so far ("to 0.200 s, 9 decoded"); the tests never seek. */
  seeks: string[];
}

/**
 * The page's inline script. `__avspl1tStart(url, kind, rate, { hideAv1, cycleLevels })` starts
 * playback: `hideAv1` makes the page answer "no" to every question about AV1 before the player
 * asks; `cycleLevels` (hls.js) loads each fragment from a level not loaded yet (`loadLevel`).
 */
const PAGE_SCRIPT = `
(() => {
  const t0 = performance.now();
  const state = {
    done: false, ended: false, errors: [], warnings: [], waitingEvents: 0, stallsAfterStart: 0, stallTimes: [], stallBufferedAhead: [],
    sourceBufferTypes: [], firstPlayingMs: null, levelsPlayed: [], levels: [], trickModeTracks: [], finalVideoCodec: '',
    shakaEvents: [], switchHistory: [], videoBufferUpdates: [], seeks: [], lastVideoSegment: '',
  };
  const ranges = (b) => {
    const out = [];
    for (let i = 0; i < b.length; i++) out.push('[' + b.start(i).toFixed(3) + ',' + b.end(i).toFixed(3) + ']');
    return out.join(' ') || '[]';
  };
  // Each append to or remove from the video buffer, seen through the SourceBuffer's own events:
  // an append that overlaps what is buffered shows as a range that does not grow.
  const watchVideoBuffer = (buffer) => {
    let before = '';
    buffer.addEventListener('updatestart', () => { before = ranges(buffer.buffered); });
    buffer.addEventListener('updateend', () => {
      const video = document.querySelector('video');
      state.videoBufferUpdates.push(
        (state.lastVideoSegment || '?') + ' at ' + video.currentTime.toFixed(3) + ' s: ' + before + ' → ' + ranges(buffer.buffered),
      );
    });
  };
  window.__avspl1t = state;
  // Record every SourceBuffer a player creates: this is how audio presence is seen, whatever the player.
  if (window.MediaSource) {
    const add = MediaSource.prototype.addSourceBuffer;
    MediaSource.prototype.addSourceBuffer = function (type) {
      state.sourceBufferTypes.push(type);
      const buffer = add.call(this, type);
      if (String(type).startsWith('video/')) watchVideoBuffer(buffer);
      return buffer;
    };
  }
  const finish = () => { state.done = true; };
  const fail = (message) => { state.errors.push(message); finish(); };
  window.addEventListener('error', (e) => state.errors.push('window error: ' + e.message));
  window.addEventListener('unhandledrejection', (e) => state.errors.push('unhandled rejection: ' + String(e.reason)));

  window.__avspl1tSnapshot = () => {
    const video = document.querySelector('video');
    const q = video.getVideoPlaybackQuality();
    const buffered = [];
    for (let i = 0; i < video.buffered.length; i++) buffered.push([video.buffered.start(i), video.buffered.end(i)]);
    return {
      done: state.done, ended: state.ended, errors: state.errors.slice(), warnings: state.warnings.slice(),
      duration: video.duration, currentTime: video.currentTime, playbackRate: video.playbackRate,
      decodedFrames: q.totalVideoFrames, droppedFrames: q.droppedVideoFrames, buffered,
      waitingEvents: state.waitingEvents, stallsAfterStart: state.stallsAfterStart, stallTimes: state.stallTimes.slice(),
      stallBufferedAhead: state.stallBufferedAhead.slice(),
      videoWidth: video.videoWidth, videoHeight: video.videoHeight,
      sourceBufferTypes: state.sourceBufferTypes.slice(),
      audioDecodedBytes: video.webkitAudioDecodedByteCount ?? -1,
      videoDecodedBytes: video.webkitVideoDecodedByteCount ?? -1,
      firstPlayingMs: state.firstPlayingMs,
      levelsPlayed: state.levelsPlayed.slice(), levels: state.levels.slice(), trickModeTracks: state.trickModeTracks.slice(),
      finalVideoCodec: finalVideoCodec(),
      shakaEvents: state.shakaEvents.slice(), switchHistory: shakaSwitchHistory(),
      videoBufferUpdates: state.videoBufferUpdates.slice(), seeks: state.seeks.slice(),
    };
  };
  const finalVideoCodec = () => {
    if (window.__avspl1tHls) {
      const level = window.__avspl1tHls.levels[window.__avspl1tHls.currentLevel];
      return level ? level.videoCodec || '' : '';
    }
    if (window.__avspl1tShaka) {
      const track = window.__avspl1tShaka.getVariantTracks().find((t) => t.active);
      return track ? track.videoCodec || '' : '';
    }
    return '';
  };

  const describeTrack = (t) => (t ? t.width + 'x' + t.height + ' ' + (t.videoCodec || '') : 'none');
  const shakaTrack = (id) => window.__avspl1tShaka.getVariantTracks().find((t) => t.id === id);
  const shakaSwitchHistory = () => {
    if (!window.__avspl1tShaka) return [];
    return window.__avspl1tShaka.getStats().switchHistory.filter((s) => s.type === 'variant').map((s) =>
      '+' + (s.timestamp - state.shakaLoadedAt).toFixed(2) + ' s ' + (s.fromAdaptation ? 'abr ' : 'chosen ') + describeTrack(shakaTrack(s.id)));
  };

  // A browser without AV1, as far as the players can ask: MSE, canPlayType and MediaCapabilities say no.
  const isAv1 = (type) => /av01/i.test(String(type));
  const hideAv1 = () => {
    const supported = MediaSource.isTypeSupported.bind(MediaSource);
    MediaSource.isTypeSupported = (type) => !isAv1(type) && supported(type);
    const canPlay = HTMLMediaElement.prototype.canPlayType;
    HTMLMediaElement.prototype.canPlayType = function (type) { return isAv1(type) ? '' : canPlay.call(this, type); };
    if (navigator.mediaCapabilities) {
      const decodingInfo = navigator.mediaCapabilities.decodingInfo.bind(navigator.mediaCapabilities);
      navigator.mediaCapabilities.decodingInfo = async (config) => {
        if (config && config.video && isAv1(config.video.contentType))
          return { supported: false, smooth: false, powerEfficient: false, configuration: config };
        return decodingInfo(config);
      };
    }
  };

  window.__avspl1tStart = async (url, kind, rate, options = {}) => {
    const video = document.querySelector('video');
    if (options.hideAv1) hideAv1();
    video.muted = true;
    video.defaultPlaybackRate = rate;
    video.addEventListener('playing', () => {
      if (state.firstPlayingMs === null) state.firstPlayingMs = performance.now() - t0;
      if (video.playbackRate !== rate) video.playbackRate = rate;
    });
    video.addEventListener('waiting', () => {
      state.waitingEvents++;
      if (state.firstPlayingMs !== null && !video.ended) {
        state.stallsAfterStart++;
        state.stallTimes.push(video.currentTime);
        // A gap in the media leaves nothing buffered at the playhead; a decoder short of CPU waits
        // with the next frames already in the buffer.
        let ahead = 0;
        for (let i = 0; i < video.buffered.length; i++)
          if (video.buffered.start(i) <= video.currentTime && video.currentTime <= video.buffered.end(i))
            ahead = video.buffered.end(i) - video.currentTime;
        state.stallBufferedAhead.push(ahead);
      }
    });
    video.addEventListener('ended', () => { state.ended = true; finish(); });
    // Nothing here seeks: a seek is the player's own (Shaka's stall detector nudges the playhead), and
    // Chromium decodes again from the keyframe before the target.
    video.addEventListener('seeking', () => {
      state.seeks.push('to ' + video.currentTime.toFixed(3) + ' s, ' + video.getVideoPlaybackQuality().totalVideoFrames + ' decoded');
    });
    video.addEventListener('error', () => {
      const e = video.error;
      fail('MediaError ' + (e ? e.code + ': ' + e.message : 'unknown'));
    });
    const play = () => {
      video.playbackRate = rate;
      video.play().catch((e) => state.warnings.push('play(): ' + String(e)));
    };
    try {
      if (kind === 'hlsjs') {
        if (!Hls.isSupported()) return fail('hls.js: MSE not supported');
        // Infinite back buffer keeps the whole timeline in video.buffered, so holes show at the end.
        // Few, quick retries: a missing segment becomes a fatal error in about a second instead of
        // hls.js's default of minutes of backoff.
        const policy = {
          default: {
            maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 20000,
            timeoutRetry: { maxNumRetry: 1, retryDelayMs: 0, maxRetryDelayMs: 0 },
            errorRetry: { maxNumRetry: 1, retryDelayMs: 250, maxRetryDelayMs: 500 },
          },
        };
        const hls = new Hls({
          debug: false, backBufferLength: Infinity, enableWorker: true,
          manifestLoadPolicy: policy, playlistLoadPolicy: policy, fragLoadPolicy: policy,
        });
        window.__avspl1tHls = hls;
        hls.on(Hls.Events.ERROR, (_event, data) => {
          const message = 'hls.js ' + data.type + '/' + data.details + (data.error ? ': ' + data.error.message : '') +
            (data.frag ? ' (frag ' + data.frag.url + ')' : '');
          if (data.fatal) fail('fatal ' + message);
          else state.warnings.push(message);
        });
        hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
          state.levels = data.levels.map((level) => level.height + 'p ' + (level.videoCodec || ''));
          play();
        });
        // The level of each fragment that plays.
        hls.on(Hls.Events.FRAG_LOADED, (_event, data) => {
          if (data.frag.type === 'main') state.lastVideoSegment = data.frag.url.split('/').slice(-2).join('/');
        });
        hls.on(Hls.Events.FRAG_CHANGED, (_event, data) => {
          const level = hls.levels[data.frag.level];
          if (level) state.levelsPlayed.push(level.height + 'p ' + (level.videoCodec || ''));
        });
        // Through every rung: after each fragment loads, the next one comes from a level not loaded
        // yet (else the next one). loadLevel is manual: the ABR controller cannot override it.
        if (options.cycleLevels) {
          const loaded = new Set();
          hls.on(Hls.Events.FRAG_LOADED, (_event, data) => {
            if (data.frag.type !== 'main') return;
            loaded.add(data.frag.level);
            const fresh = hls.levels.findIndex((_, i) => !loaded.has(i));
            hls.loadLevel = fresh >= 0 ? fresh : (data.frag.level + 1) % hls.levels.length;
          });
        }
        hls.attachMedia(video);
        hls.loadSource(url);
      } else if (kind === 'shaka') {
        shaka.polyfill.installAll();
        if (!shaka.Player.isBrowserSupported()) return fail('shaka: browser not supported');
        const player = new shaka.Player();
        window.__avspl1tShaka = player;
        // Shaka breaks a stall (the playhead still for 1 s with media buffered, as when a loaded machine
        // is slow to show the first frame) by seeking 0.1 s ahead by default; Chromium then decodes the
        // frames from the keyframe again (seen: 152 decoded of 150, each time after a stall at 0.1 s).
        // stallSkip 0 breaks it with pause and play instead, as Shaka does on Chromecast and smart TVs.
        player.configure({
          streaming: { bufferBehind: Infinity, retryParameters: { maxAttempts: 2 }, stallSkip: 0 },
        });
        // switchHistory stamps are wall-clock seconds (Date.now() / 1000).
        state.shakaLoadedAt = Date.now() / 1000;
        const onEvent = (event) => {
          const q = video.getVideoPlaybackQuality();
          state.shakaEvents.push(event.type + ' at ' + video.currentTime.toFixed(3) + ' s, ' + q.totalVideoFrames +
            ' decoded: ' + describeTrack(event.newTrack || player.getVariantTracks().find((t) => t.active)));
        };
        for (const type of ['adaptation', 'variantchanged', 'stalldetected', 'gapjumped'])
          player.addEventListener(type, onEvent);
        player.getNetworkingEngine().registerResponseFilter((type, response) => {
          if (type !== shaka.net.NetworkingEngine.RequestType.SEGMENT) return;
          const name = response.uri.split('/').slice(-2).join('/');
          if (!/audio/.test(name)) state.lastVideoSegment = name;
        });
        player.addEventListener('error', (event) => {
          const e = event.detail;
          const message = 'shaka error ' + e.code + ' (category ' + e.category + ', severity ' + e.severity + ')' +
            (e.data && e.data.length ? ': ' + JSON.stringify(e.data).slice(0, 500) : '');
          if (e.severity === 2) fail(message);
          else state.warnings.push(message);
        });
        await player.attach(video);
        try {
          await player.load(url);
        } catch (e) {
          return fail('shaka load failed: code ' + e.code + ' ' + JSON.stringify(e.data || []).slice(0, 500));
        }
        const describe = (s) => (s ? s.width + 'x' + s.height + ' ' + s.codecs : 'none');
        for (const variant of player.getManifest().variants)
          if (variant.video)
            state.trickModeTracks.push(describe(variant.video) + ' => ' + describe(variant.video.trickModeVideo));
        play();
      } else {
        fail('unknown player ' + kind);
      }
    } catch (e) {
      fail('player setup threw: ' + (e && e.stack ? e.stack : String(e)));
    }
  };
})();
`;

/** Builds the player page for one player; `scriptUrl` is where that player's build is served. */
export function playerPageHtml(scriptUrl: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>avspl1t player</title></head>
<body><video width="640" height="360" muted playsinline></video>
<script>${PAGE_SCRIPT}</script>
<script src="${scriptUrl}"></script>
</body></html>`;
}
