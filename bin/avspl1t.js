#!/usr/bin/env node
// The avspl1t command. On a Node.js older than package.json's engines.node it stops with a
// hint instead of failing somewhere inside a dependency.
import { readFileSync } from 'node:fs';

const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const needed = Number(/\d+/.exec(engines.node)[0]);
if (Number(process.versions.node.split('.')[0]) < needed) {
  process.stderr.write(
    `error: avspl1t needs Node.js ${needed} or newer, this is ${process.version} (${process.execPath}); ` +
      'in a checkout, `source scripts/node-env.sh` puts it first on PATH\n',
  );
  process.exit(1);
}
// The bundled command (rolldown.config.mjs); dist/src holds the same code file by file.
await import('../dist/cli/main.js');
