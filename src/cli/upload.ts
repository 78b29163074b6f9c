// `submit --upload`: copies a local input into the job's working location before
// the job exists, with a progress bar on stderr (bytes, percent, ETA).
import path from 'node:path';
import type { File, Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { childFolder, Storage } from '../storage/index.js';
import { progressBar } from './progress.js';

/** The sub-folder of the working location that uploaded inputs go to. */
export const UPLOAD_FOLDER = 'input';

/** Uploads `localPath` as `input/<name>` inside `working`; returns the stored File. */
export async function uploadInput(
  localPath: string,
  working: Folder,
  options: { quiet?: boolean; signal?: AbortSignal } = {},
): Promise<File> {
  const bar = progressBar('uploading [{bar}] {percentage}% | {done}/{size} MiB | ETA {eta_formatted}', {
    notTTYSchedule: 2000,
  });
  const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);
  let started = false;
  const storage = new Storage();
  try {
    return await storage.upload(localPath, childFolder(working, UPLOAD_FOLDER), path.basename(localPath), {
      signal: options.signal,
      onProgress: (bytes, total) => {
        if (options.quiet) return;
        if (!started) {
          bar.start(Math.max(total, 1), 0, { done: mib(0), size: mib(total) });
          started = true;
        }
        bar.update(bytes, { done: mib(bytes), size: mib(total) });
      },
    });
  } finally {
    if (started) bar.stop();
    storage.destroy();
  }
}
