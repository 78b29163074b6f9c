// The web console's files (built by Vite into dist/console) and, read-only, the
// HLS output of finished jobs whose output is a filesystem folder, so the
// console's player can play it: /console/output/<job id>/<file in its folder>.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { answer, type HttpRequest, type HttpResponse, pathOf } from '../metrics/http-answer.js';
import { PACKAGE_ROOT } from '../package-root.js';

/** Where `npm run build` puts the console. */
export const CONSOLE_DIR = path.join(PACKAGE_ROOT, 'dist/console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/mp4',
  '.mp4': 'video/mp4',
  '.m4a': 'audio/mp4',
};
/** What a job's output folder may serve: playlists and media, nothing else found there. */
const OUTPUT_TYPES = new Set(['.m3u8', '.m4s', '.mp4', '.m4a']);

export interface ConsoleFilesOptions {
  /** The built console (default CONSOLE_DIR). */
  dir?: string;
  /** The filesystem folder holding a job's master playlist, or undefined (no such job, not finished, on S3). */
  outputFolder: (jobId: string) => Promise<string | undefined>;
  /** Checks the request's token for job output (throws); undefined when auth is off. */
  authorize?: (authorization: string | undefined) => void;
}

/** A handler serving the console and job outputs; answers false for a path that is neither. */
export function consoleFiles(options: ConsoleFilesOptions) {
  const dir = options.dir ?? CONSOLE_DIR;
  return async (req: HttpRequest, res: HttpResponse): Promise<boolean> => {
    const p = pathOf(req);
    const output = /^\/console\/output\/([^/]+)\/(.+)$/.exec(p);
    if (output) {
      try {
        options.authorize?.(req.headers.authorization);
      } catch (err) {
        answer(res, 401, `${errorMessage(err)}\n`);
        return true;
      }
      const jobId = decoded(output[1]!);
      const rel = decoded(output[2]!);
      if (jobId === undefined || rel === undefined) return false;
      const folder = await options.outputFolder(jobId).catch(() => undefined);
      if (!folder) return false;
      return sendFile(res, folder, rel, OUTPUT_TYPES);
    }
    if (p === '/console') {
      res.statusCode = 308;
      res.setHeader('location', '/console/');
      res.end();
      return true;
    }
    const rel = decoded(p === '/console/' ? 'index.html' : p.slice('/console/'.length));
    return rel === undefined ? false : sendFile(res, dir, rel, undefined);
  };
}

/** `s` percent-decoded, or undefined when its encoding is malformed. */
function decoded(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** Sends `rel` from inside `root` (never a path leading out of it, symlinks included); false when absent. */
async function sendFile(res: HttpResponse, root: string, rel: string, allowed: Set<string> | undefined) {
  const ext = path.extname(rel).toLowerCase();
  if (allowed && !allowed.has(ext)) return false;
  if (rel.includes('\0') || rel.split(/[\\/]/).includes('..')) return false;
  let file: string;
  try {
    const base = await realpath(root);
    file = await realpath(path.join(base, rel));
    if (!file.startsWith(base + path.sep) || !(await stat(file)).isFile()) return false;
  } catch {
    return false;
  }
  res.statusCode = 200;
  res.setHeader('content-type', TYPES[ext] ?? 'application/octet-stream');
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('x-content-type-options', 'nosniff');
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res as NodeJS.WritableStream);
  return true;
}
