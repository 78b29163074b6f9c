// Output locations that would lose data, checked at SubmitJob: a job whose files
// (playlists, segments, pieces, their temporary names) would replace its own
// input, and an output folder that already holds an earlier encode's files.
// Paths are compared after resolving `..` and the symlinks of what exists.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { AppError, ErrorKind, invalidInput } from '../errors.js';
import type { EncodeJob } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { File, Folder } from '../gen/avspl1t/v1/storage_pb.js';
import { AUDIO_INIT_NAME, AUDIO_PLAYLIST_NAME } from '../media/audio.js';
import { INIT_NAME } from '../media/encode.js';
import { MASTER_NAME, VIDEO_PLAYLIST_NAME } from '../media/manifest.js';
import { describe, resolveExisting } from '../storage/index.js';

const OUTPUT_NAMES = new Set([
  MASTER_NAME,
  VIDEO_PLAYLIST_NAME,
  INIT_NAME,
  AUDIO_PLAYLIST_NAME,
  AUDIO_INIT_NAME,
]);
const NUMBERED_OUTPUT = /^(seg|audio)-\d+\.m4s$/;
const PIECE = /^piece-\d+\.nut$/;
/** An upload's temporary name (`<name>.tmp-<pid>-<random>`, storage/fs.ts), removed when a job ends. */
const TEMPORARY = /\.tmp-.*$/;

/** Whether the job writes (or may remove) a file of this name in its output folder. */
export function writesInOutput(name: string): boolean {
  const n = name.replace(TEMPORARY, '');
  return OUTPUT_NAMES.has(n) || NUMBERED_OUTPUT.test(n);
}

/** Whether the job writes a file of this name in its working folder. */
function writesInWorking(name: string): boolean {
  return PIECE.test(name.replace(TEMPORARY, ''));
}

/** A location reduced to what names the same place: a resolved path, or endpoint + bucket + key. */
interface Place {
  /** `fs:<path>` or `s3:<endpoint>/<bucket>/<key>`, without a trailing slash. */
  key: string;
}

function s3Place(loc: File | Folder): Place | undefined {
  const l = loc.location;
  if (l.case !== 's3') return undefined;
  const key = l.value.path.replace(/^\/+|\/+$/g, '');
  return { key: `s3:${endpointOf(l.value.credentials)}/${l.value.bucket}${key ? `/${key}` : ''}` };
}

/** The service a location is on: its endpoint's origin and path, or AWS in its region. */
function endpointOf(c: { endpoint: string; region: string } | undefined): string {
  if (!c?.endpoint) return `aws:${c?.region || 'us-east-1'}`;
  try {
    const u = new URL(c.endpoint);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return c.endpoint;
  }
}

/** Where a folder is, with symlinks of its existing part resolved. */
async function folderPlace(folder: Folder): Promise<Place | undefined> {
  const l = folder.location;
  if (l.case === 'fs') return { key: `fs:${await resolveExisting(path.resolve(l.value.path))}` };
  return s3Place(folder);
}

/** The places a file may be reached by: its folder as named (resolved) plus its name, and its symlink's target. */
async function filePlaces(file: File): Promise<{ folder: string; name: string }[]> {
  const l = file.location;
  const split = (key: string) => ({
    folder: key.slice(0, key.lastIndexOf('/')),
    name: key.slice(key.lastIndexOf('/') + 1),
  });
  if (l.case === 'fs') {
    const p = path.resolve(l.value.path);
    const viaFolder = path.join(await resolveExisting(path.dirname(p)), path.basename(p));
    return [split(`fs:${viaFolder}`), split(`fs:${await resolveExisting(p)}`)];
  }
  const s3 = s3Place(file);
  return s3 ? [split(s3.key)] : [];
}

/** The normalized output location, as the outputs table keys it. */
export async function outputKey(job: EncodeJob): Promise<string> {
  const place = job.output ? await folderPlace(job.output) : undefined;
  if (!place) throw invalidInput('job.output: required');
  return place.key;
}

/**
 * Throws InvalidInput, naming the input and the folder, when a file the job
 * writes would replace its input: an input in the output folder (or the media
 * folder) named like a playlist or segment, or in the working folder named
 * like a piece. `--overwrite` does not lift this.
 */
export async function checkInputKept(job: EncodeJob): Promise<void> {
  if (!job.input) return;
  const input = await filePlaces(job.input);
  const folders: [string, Folder | undefined, (name: string) => boolean][] = [
    ['output', job.output, writesInOutput],
    ['working', job.working, writesInWorking],
  ];
  for (const [field, folder, writes] of folders) {
    if (!folder) continue;
    const place = await folderPlace(folder);
    if (!place) continue;
    const hit = input.find((i) => i.folder === place.key && writes(i.name));
    if (hit)
      throw invalidInput(
        `job.input: ${describe(job.input)} would be overwritten: the job writes a file named "${hit.name}" in its ${field} folder ${describe(folder)}; use another ${field} folder or rename the input`,
      );
  }
}

/**
 * The files an earlier encode left in a filesystem output folder the
 * coordinator can see (names the job would write); none for S3 or a folder
 * that does not exist here.
 */
export async function earlierOutputFiles(job: EncodeJob): Promise<string[]> {
  const l = job.output?.location;
  if (l?.case !== 'fs') return [];
  try {
    return (await readdir(path.resolve(l.value.path))).filter(writesInOutput).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No folder by that name here (or none can exist: a name too long, a symlink loop).
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') return [];
    if (code === 'EACCES')
      throw new AppError(ErrorKind.AccessDenied, `job.output: cannot read ${l.value.path}`);
    throw err;
  }
}
