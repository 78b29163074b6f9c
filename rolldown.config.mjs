// Bundles the `avspl1t` command (bin/avspl1t.js runs dist/cli/main.js): one file
// to load instead of ~700 modules halves the start-up of every command (see
// bench/REPORT.md, "Short clip"). Native and optional driver modules stay outside;
// lazily imported parts (S3, metrics, PostgreSQL) stay lazy as their own chunks.
// The tests import tsc's per-file output in dist/src; the CLI tests run this bundle.
import { defineConfig } from 'rolldown';

/**
 * node:http through `require`: node's ESM wrapper of a built-in module reads every export,
 * and reading http.WebSocket (or CloseEvent, MessageEvent) loads node's copy of undici,
 * ~0.1 s of CPU at the start of every command that never opens a WebSocket
 * (nodejs/node#59686). Required, the module is a plain object read only where used.
 */
const httpByRequire = {
  name: 'node-http-by-require',
  resolveId(source, importer) {
    if ((source === 'node:http' || source === 'http') && importer !== HTTP_SHIM) return HTTP_SHIM;
  },
  load(id) {
    if (id === HTTP_SHIM) return "module.exports = require('node:http');";
  },
};
const HTTP_SHIM = '\0node-http-by-require';

export default defineConfig({
  input: {
    main: 'dist/src/cli/main.js',
    // Started by path (src/db/sqlite/checkpointer.ts), so it keeps its name beside main.js.
    'checkpoint-thread': 'dist/src/db/sqlite/checkpoint-thread.js',
  },
  platform: 'node',
  external: ['better-sqlite3', 'pg-native'],
  plugins: [httpByRequire],
  output: {
    dir: 'dist/cli',
    cleanDir: true,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
  },
});
