// Filesystem confinement of submitted jobs: every fs File/Folder must resolve
// (after symlinks) inside one of the allowed roots, and `..` segments are refused
// outright (the kernel resolves them after symlinks, a lexical check would not).
import { AppError, ErrorKind, invalidInput } from '../errors.js';
import type { EncodeJob } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { File, Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { confinedPath } from '../storage/index.js';

/** Throws InvalidInput (`..`) or AccessDenied (outside the roots) naming the field. */
export async function confineJob(job: EncodeJob | undefined, roots: string[]): Promise<void> {
  if (!job) return;
  const fields: [string, File | Folder | undefined][] = [
    ['job.input', job.input],
    ['job.working', job.working],
    ['job.output', job.output],
  ];
  for (const [field, loc] of fields) {
    if (loc?.location.case !== 'fs') continue;
    const p = loc.location.value.path;
    if (p.split('/').includes('..')) throw invalidInput(`${field}.fs.path: ".." is not allowed (got "${p}")`);
    try {
      await confinedPath(loc, roots);
    } catch (err) {
      const e = AppError.from(err);
      if (e.kind === ErrorKind.AccessDenied)
        throw new AppError(
          ErrorKind.AccessDenied,
          `${field}.fs.path: outside the allowed roots (${roots.join(', ')}): ${p}`,
        );
      throw invalidInput(`${field}.fs.path: ${e.message}`);
    }
  }
}
