// Stops an encode that will never end: ffmpeg flushes the encoder when its input
// ends, even if no frame reached it, and libsvtav1 flushed with no frame waits
// forever (ignoring SIGTERM). ffmpeg prints progress every half second while it
// reads and filters; silence before the first frame means it is stuck there.
import { AppError, ErrorKind } from '../errors.js';

/** Silence (no stderr line) before any frame reached the encoder after which ffmpeg is stopped. */
export const NO_FRAME_SILENCE_MS = 15_000;

/** No frame of the range reached the encoder (ffmpeg was stopped). */
export class NoFrameError extends AppError {
  constructor(message: string) {
    super(ErrorKind.Permanent, message);
  }
}

export interface FirstFrameWatch {
  /** Pass to ffmpeg's run: aborted when `parent` is, or when ffmpeg is stuck without a frame. */
  signal: AbortSignal;
  /** Feed every stderr line (ffmpeg run with `-progress pipe:2`). */
  line(line: string): void;
  /** Whether the watch stopped ffmpeg. */
  readonly stuck: boolean;
  stop(): void;
}

/** Watches one ffmpeg encode run for silence before its first frame. */
export function watchFirstFrame(
  parent: AbortSignal | undefined,
  silenceMs = NO_FRAME_SILENCE_MS,
): FirstFrameWatch {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  parent?.addEventListener('abort', onAbort, { once: true });
  let frames = 0;
  let lastLine = 0;
  let stuck = false;
  // Armed by the first line: before it ffmpeg is still opening its input and encoder.
  const timer = setInterval(
    () => {
      if (lastLine > 0 && frames === 0 && Date.now() - lastLine > silenceMs) {
        stuck = true;
        controller.abort(new NoFrameError('no frame reached the encoder'));
      }
    },
    Math.min(1000, silenceMs),
  );
  return {
    signal: controller.signal,
    line(line) {
      lastLine = Date.now();
      const m = /^frame=(\d+)/.exec(line);
      if (m) frames = Math.max(frames, Number(m[1]));
    },
    get stuck() {
      return stuck;
    },
    stop() {
      clearInterval(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}
