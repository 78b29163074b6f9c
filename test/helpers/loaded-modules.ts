// Preloaded with `node --import` (via NODE_OPTIONS) into a CLI subprocess: records the URL
// of every module the process loads and writes them, one a line, to the file named by
// AVSPL1T_TEST_LOADED_MODULES when it exits, then node's internal modules it loaded (from
// process.moduleLoadList) as `node-internal:<name>` lines. Tests read it to check what a command loads.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.AVSPL1T_TEST_LOADED_MODULES;
if (out) {
  const loaded: string[] = [];
  registerHooks({
    load(url, context, nextLoad) {
      loaded.push(url);
      return nextLoad(url, context);
    },
  });
  process.on('exit', () => {
    // Undocumented, so not in @types/node: the names of the built-in modules node loaded.
    const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
    const internal = moduleLoadList
      .filter((m) => m.startsWith('NativeModule '))
      .map((m) => `node-internal:${m.slice('NativeModule '.length)}`);
    writeFileSync(out, `${[...loaded, ...internal].join('\n')}\n`);
  });
}

/** This file's compiled path, for `--import`. */
export const LOADED_MODULES_HOOK = new URL(import.meta.url).pathname;
