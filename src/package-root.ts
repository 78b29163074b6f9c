// Where the installed package's own files are (package.json, the console's built
// pages): the nearest folder above this module that holds package.json. Found, not
// assumed, because this module runs both from dist/src/ (tsc's output, used by the
// tests) and from dist/cli/ (the bundled command, see rolldown.config.mjs).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The folder holding avspl1t's package.json. */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
