// Builds the web console (console/src) into dist/console, served by the
// coordinator at /console/ with `--console`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/console/',
  logLevel: 'warn',
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    // One bundle for a page behind a token on an internal port: size warnings do not help.
    chunkSizeWarningLimit: 2000,
    // Build-time profiling notes on a loaded machine are not warnings about the console.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
});
