// Event-loop stalls of one process, for the paced dispatch trace: a timer due
// every `periodMs` that notes when it fired late (a blocked loop or a process the
// OS did not run), as wall-clock windows both processes can compare.

/** A window (epoch ms) in which the process ran no JavaScript it was due to run. */
export interface Stall {
  from: number;
  to: number;
}

/** Records stalls longer than `overMs` until `stop()`. */
export function recordStalls(periodMs = 5, overMs = 5): { stalls: Stall[]; stop: () => void } {
  const stalls: Stall[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last - periodMs > overMs)
      stalls.push({ from: performance.timeOrigin + last + periodMs, to: performance.timeOrigin + now });
    last = now;
  }, periodMs);
  timer.unref();
  return { stalls, stop: () => clearInterval(timer) };
}
