// Bundles the `avspl1t` command (bin/avspl1t.js runs dist/cli/main.js): one file
// to load instead of ~700 modules halves the start-up of every command (see
// bench/REPORT.md, "Short clip"). Native and optional driver modules stay outside;
// lazily imported parts (S3, metrics, PostgreSQL) stay lazy as their own chunks.
// The tests import tsc's per-file output in dist/src; the CLI tests run this bundle.
import { defineConfig } from 'rolldown';

export default defineConfig({
  input: {
    main: 'dist/src/cli/main.js',
    // Started by path (src/db/sqlite/checkpointer.ts), so it keeps its name beside main.js.
    'checkpoint-thread': 'dist/src/db/sqlite/checkpoint-thread.js',
  },
  platform: 'node',
  external: ['better-sqlite3', 'pg-native'],
  output: {
    dir: 'dist/cli',
    cleanDir: true,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
  },
});
