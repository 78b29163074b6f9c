// Rational arithmetic for media time: timestamps stay integers in a time base
// until they are printed.

export interface Ratio {
  num: number;
  den: number;
}

/** Parses "30000/1001" (or "25") into a ratio; undefined for "0/0" and garbage. */
export function parseRatio(s: string | undefined): Ratio | undefined {
  if (!s) return undefined;
  const [n, d = '1'] = s.split('/');
  const num = Number(n);
  const den = Number(d);
  if (!Number.isFinite(num) || !Number.isFinite(den) || num <= 0 || den <= 0) return undefined;
  return { num, den };
}

/** Seconds of `ticks` in time base `tb`. */
export function toSeconds(ticks: number, tb: Ratio): number {
  return (ticks * tb.num) / tb.den;
}

/** `ticks` as a seconds argument for ffmpeg (`-ss`), to the microsecond. */
export function secondsArg(ticks: number, tb: Ratio): string {
  return toSeconds(ticks, tb).toFixed(6);
}

/** Ticks of `seconds` in time base `tb`, rounded. */
export function toTicks(seconds: number, tb: Ratio): number {
  return Math.round((seconds * tb.den) / tb.num);
}

/** Rescales `ticks` from one time base to another, rounding to nearest. */
export function rescale(ticks: number, from: Ratio, to: Ratio): number {
  return Math.round((ticks * from.num * to.den) / (from.den * to.num));
}

/** "30000/1001" */
export function formatRatio(r: Ratio): string {
  return `${r.num}/${r.den}`;
}

/** Frames per second as a decimal with three places ("29.970"), as HLS FRAME-RATE wants. */
export function fps3(r: Ratio): string {
  return (r.num / r.den).toFixed(3);
}
