// Filesystem backend: local disk or a shared mount (NFS). Paths may be confined
// to a list of allowed roots, checked after resolving `..` and symlinks.
import { createReadStream, createWriteStream } from 'node:fs';
import {
  access,
  constants,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError, ErrorKind } from '../errors.js';
import type { File, Folder } from '../gen/avspl1t/v1/storage_pb.js';
import type { LocalFile, PutOptions, StorageBackend } from './storage.js';

export interface FsOptions {
  /** When set, every path must resolve inside one of these directories. */
  allowedRoots?: string[];
}

/** Marks an upload's temporary name: `<name>.tmp-<pid>-<random>` beside the file it becomes. */
const TEMP_MARK = '.tmp-';

function outside(p: string): AppError {
  return new AppError(ErrorKind.AccessDenied, `path is outside the allowed storage roots: ${p}`);
}

function fsPath(loc: File | Folder): string {
  if (loc.location.case !== 'fs') throw new AppError(ErrorKind.Internal, 'not a filesystem location');
  const p = loc.location.value.path;
  if (!p) throw new AppError(ErrorKind.InvalidInput, 'empty filesystem path');
  if (!path.isAbsolute(p)) throw new AppError(ErrorKind.InvalidInput, `path must be absolute: ${p}`);
  if (p.includes('\0')) throw new AppError(ErrorKind.InvalidInput, 'path contains a NUL byte');
  return path.normalize(p);
}

/** Resolves symlinks of the longest existing prefix of `p`, keeping the rest. */
export async function resolveExisting(p: string): Promise<string> {
  let head = p;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(await realpath(head), ...tail.reverse());
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return p;
      tail.push(path.basename(head));
      head = parent;
    }
  }
}

export class FsBackend implements StorageBackend {
  private readonly roots: string[] | undefined;

  constructor(options: FsOptions = {}) {
    this.roots = options.allowedRoots?.map((r) => path.resolve(r));
  }

  /** The checked absolute path of a location; throws AccessDenied outside the allowed roots. */
  async checked(loc: File | Folder): Promise<string> {
    const p = fsPath(loc);
    if (this.roots && !(await this.inside(await resolveExisting(p)))) throw outside(p);
    return p;
  }

  /** Whether a path without symlinks lies inside an allowed root (or no roots are set). */
  private async inside(real: string): Promise<boolean> {
    if (!this.roots) return true;
    for (const root of this.roots) {
      const rel = path.relative(await resolveExisting(root), real);
      if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) return true;
    }
    return false;
  }

  /**
   * With allowed roots, the file is opened first and the roots are checked on what
   * was opened (the kernel's name for the descriptor): a symlink or directory
   * swapped in after the path check cannot redirect the read. Child processes read
   * it through /proc/<pid>/fd/<n>, which reopens that same file.
   */
  async openLocal(file: File): Promise<LocalFile> {
    const p = await this.checked(file);
    if (!this.roots) return { path: p, close: async () => {} };
    return this.pin(await open(p, 'r'), p);
  }

  /**
   * The folder `dir` opened for writing into: with allowed roots, the directory is
   * opened first and the roots are checked on what was opened, and the returned
   * path names the descriptor (/proc/<pid>/fd/<n>), so a directory swapped for a
   * symlink after the check cannot redirect writes, renames or removals.
   */
  async openFolder(dir: string): Promise<LocalFile> {
    if (!this.roots) return { path: dir, close: async () => {} };
    return this.pinFolder(dir, dir);
  }

  /** Opens the directory at `at` and pins it (see `pin`); `shown` names it in errors. */
  private async pinFolder(at: string, shown: string): Promise<LocalFile> {
    return this.pin(await open(at, constants.O_RDONLY | constants.O_DIRECTORY), shown);
  }

  /**
   * mkdir -p, then the folder opened as `openFolder` opens it. With allowed roots
   * each missing level is made inside its parent as opened and checked (through
   * the descriptor), not by name, so a directory swapped for a symlink meanwhile
   * cannot get folders made outside the roots.
   */
  private async makeFolder(dir: string): Promise<LocalFile> {
    if (!this.roots) {
      await mkdirs(dir);
      return this.openFolder(dir);
    }
    const missing: string[] = [];
    let existing = dir;
    while (!(await stat(existing).catch(() => undefined))) {
      const parent = path.dirname(existing);
      if (parent === existing) break;
      missing.unshift(path.basename(existing));
      existing = parent;
    }
    let current = await this.openFolder(existing);
    let logical = existing;
    try {
      for (const name of missing) {
        const child = path.join(current.path, name);
        logical = path.join(logical, name);
        await mkdir(child).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        const opened = await this.pinFolder(child, logical);
        await current.close();
        current = opened;
      }
    } catch (err) {
      await current.close();
      throw err;
    }
    return current;
  }

  /**
   * Checks the roots on what `handle` (opened from path `p`) names and returns a
   * path to the descriptor itself; closes it when refused.
   */
  private async pin(handle: FileHandle, p: string): Promise<LocalFile> {
    try {
      const real = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
      // Without /proc (not Linux) the path check is what there is.
      if (real === undefined) return { path: p, close: () => handle.close() };
      if (!(await this.inside(real))) throw outside(p);
      return { path: `/proc/${process.pid}/fd/${handle.fd}`, close: () => handle.close() };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async download(file: File, localPath: string, signal?: AbortSignal): Promise<void> {
    const src = await this.openLocal(file);
    try {
      await pipeline(createReadStream(src.path), createWriteStream(localPath), { signal });
    } finally {
      await src.close();
    }
  }

  async upload(localPath: string, folder: Folder, name: string, options: PutOptions = {}): Promise<File> {
    const dir = await this.checked(folder);
    const dest = path.join(dir, name);
    await this.checked(fileAt(dest));
    const parent = await this.makeFolder(path.dirname(dest));
    try {
      // Write under a temporary name and rename: readers never see half a file.
      const at = path.join(parent.path, path.basename(dest));
      const tmp = `${at}${TEMP_MARK}${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        await pipeline(createReadStream(localPath), createWriteStream(tmp, { flags: 'wx' }), {
          signal: options.signal,
        });
        await rename(tmp, at);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    } finally {
      await parent.close();
    }
    return fileAt(dest);
  }

  async stat(file: File): Promise<{ size: number }> {
    const s = await stat(await this.checked(file));
    return { size: s.size };
  }

  async exists(file: File): Promise<boolean> {
    try {
      await stat(await this.checked(file));
      return true;
    } catch (err) {
      if (err instanceof AppError && err.kind === ErrorKind.AccessDenied) throw err;
      return false;
    }
  }

  async ensureWritable(folder: Folder): Promise<void> {
    const dir = await this.checked(folder);
    const opened = await this.makeFolder(dir);
    try {
      await access(opened.path, constants.W_OK);
    } finally {
      await opened.close();
    }
  }

  async remove(file: File): Promise<void> {
    const p = await this.checked(file);
    let parent: LocalFile;
    try {
      parent = await this.openFolder(path.dirname(p));
    } catch (err) {
      // No folder, nothing to remove.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      await rm(path.join(parent.path, path.basename(p)), { force: true });
    } finally {
      await parent.close();
    }
  }

  async removeTemporaries(folder: Folder): Promise<string[]> {
    const dir = await this.checked(folder);
    let opened: LocalFile | undefined;
    try {
      opened = await this.openFolder(dir);
      const names = (await readdir(opened.path)).filter((n) => n.includes(TEMP_MARK));
      for (const n of names) await rm(path.join(opened.path, n), { force: true });
      return names;
    } catch (err) {
      // No folder (a job whose pieces are ranges of its input writes none), nothing left.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    } finally {
      await opened?.close();
    }
  }

  localPath(file: File): string | undefined {
    return file.location.case === 'fs' ? fsPath(file) : undefined;
  }
}

/**
 * mkdir -p one level at a time: Node's recursive mkdir spins forever on some
 * pseudo filesystems (e.g. under /proc), where each level fails with ENOENT.
 */
export async function mkdirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    try {
      if (!(await stat(p)).isDirectory()) throw new AppError(ErrorKind.InvalidInput, `not a directory: ${p}`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.push(p);
      const parent = path.dirname(p);
      if (parent === p) break;
      p = parent;
    }
  }
  for (const m of missing.reverse()) {
    try {
      await mkdir(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** A filesystem File at an absolute path. */
export function fileAt(p: string): File {
  return {
    $typeName: 'avspl1t.v1.File',
    location: { case: 'fs', value: { $typeName: 'avspl1t.v1.FsLocation', path: p } },
  };
}

/** A filesystem Folder at an absolute path. */
export function folderAt(p: string): Folder {
  return {
    $typeName: 'avspl1t.v1.Folder',
    location: { case: 'fs', value: { $typeName: 'avspl1t.v1.FsLocation', path: p } },
  };
}
