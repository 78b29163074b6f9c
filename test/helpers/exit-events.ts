// Preloaded with `node --import` (via NODE_OPTIONS) into a CLI subprocess: appends a line
// to the file named by AVSPL1T_TEST_EXIT_EVENTS for each of node's `beforeExit` (the event
// loop drained) and `exit` events, so a test can tell how the process ended.
import { appendFileSync } from 'node:fs';

const out = process.env.AVSPL1T_TEST_EXIT_EVENTS;
if (out) {
  process.on('beforeExit', () => appendFileSync(out, 'beforeExit\n'));
  process.on('exit', (code) => appendFileSync(out, `exit ${code}\n`));
}

/** This file's compiled path, for `--import`. */
export const EXIT_EVENTS_HOOK = new URL(import.meta.url).pathname;
