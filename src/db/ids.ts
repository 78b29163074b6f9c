// Time-ordered identifiers (UUID version 7, RFC 9562) for tasks and leases. A
// random UUID lands anywhere in a primary-key index, so every claim, finish and
// run record dirties its own index page and a commit writes hundreds of them;
// ids made in order land next to the last ones. 48 bits of milliseconds, a
// 12-bit counter that keeps ids made in the same millisecond in order (RFC 9562
// method 1), and 62 random bits: as hard to guess as it needs to be for a lease
// token that only its worker ever sees.
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn in batches (one syscall per 512 ids). */
const pool = Buffer.alloc(8 * 512);
let poolAt = pool.length;

let lastMs = 0;
let counter = 0;

/** A new UUIDv7, greater than every one made before it in this process. */
export function orderedId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    // Start each millisecond's counter low and random: room for ~2,000 more ids.
    counter = Math.floor(Math.random() * 2048);
  } else if (++counter > 0xfff) {
    // 4,096 ids in one millisecond (or the clock went back): borrow the next millisecond.
    lastMs++;
    counter = 0;
  }
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = pool.subarray(poolAt, poolAt + 8);
  poolAt += 8;
  const ms = lastMs;
  const hi = Math.floor(ms / 2 ** 16);
  const lo = ms % 2 ** 16;
  const b = [
    (hi >>> 24) & 0xff,
    (hi >>> 16) & 0xff,
    (hi >>> 8) & 0xff,
    hi & 0xff,
    (lo >>> 8) & 0xff,
    lo & 0xff,
    0x70 | (counter >>> 8),
    counter & 0xff,
    0x80 | (r[0]! & 0x3f),
    r[1]!,
    r[2]!,
    r[3]!,
    r[4]!,
    r[5]!,
    r[6]!,
    r[7]!,
  ].map((x) => HEX[x]!);
  return `${b[0]}${b[1]}${b[2]}${b[3]}-${b[4]}${b[5]}-${b[6]}${b[7]}-${b[8]}${b[9]}-${b.slice(10).join('')}`;
}
