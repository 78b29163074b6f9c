// Storage facade: picks the backend for a File/Folder and offers the helpers the
// rest of the system uses (child files, display names without secrets, CLI URLs).
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { AppError, ErrorKind } from '../errors.js';
import { type File, FileSchema, type Folder, FolderSchema } from '../gen/avspl1t/v1/storage_pb.js';
import { FsBackend, type FsOptions } from './fs.js';
import type { S3Backend } from './s3.js';
import type { LocalFile, PutOptions, StorageBackend } from './storage.js';

export { fileAt, folderAt, resolveExisting } from './fs.js';
export { httpUrl } from './http-url.js';
export type { LocalFile, PutOptions, StorageBackend } from './storage.js';

export interface StorageOptions {
  fs?: FsOptions;
}

/** The S3 backend, loaded on first use: the AWS SDK's start-up (bench/REPORT.md) is not for filesystem-only runs. */
class LazyS3 implements StorageBackend {
  private loading?: Promise<S3Backend>;
  private loaded?: S3Backend;
  private get(): Promise<S3Backend> {
    this.loading ??= import('./s3.js').then((m) => {
      this.loaded = new m.S3Backend();
      return this.loaded;
    });
    return this.loading;
  }
  async download(file: File, localPath: string, signal?: AbortSignal): Promise<void> {
    return (await this.get()).download(file, localPath, signal);
  }
  async upload(localPath: string, folder: Folder, name: string, options?: PutOptions): Promise<File> {
    return (await this.get()).upload(localPath, folder, name, options);
  }
  async stat(file: File): Promise<{ size: number }> {
    return (await this.get()).stat(file);
  }
  async exists(file: File): Promise<boolean> {
    return (await this.get()).exists(file);
  }
  async ensureWritable(folder: Folder): Promise<void> {
    return (await this.get()).ensureWritable(folder);
  }
  async remove(file: File): Promise<void> {
    return (await this.get()).remove(file);
  }
  async removeTemporaries(folder: Folder): Promise<string[]> {
    return (await this.get()).removeTemporaries(folder);
  }
  localPath(): string | undefined {
    return undefined;
  }
  async openLocal(): Promise<undefined> {
    return undefined;
  }
  destroy(): void {
    // A load still under way is destroyed when it arrives.
    this.loaded?.destroy();
    void this.loading?.then((b) => b.destroy());
  }
}

/** Dispatches each operation to the backend of the location's oneof case. */
export class Storage {
  private readonly fs: FsBackend;
  private readonly extra = new Map<string, StorageBackend>();
  private readonly s3 = new LazyS3();

  constructor(options: StorageOptions = {}) {
    this.fs = new FsBackend(options.fs);
    this.register('s3', this.s3);
  }

  /** Closes the S3 clients' sockets (short-lived users such as the CLI). */
  destroy(): void {
    this.s3.destroy();
  }

  /** Registers the backend for a oneof case other than `fs` (e.g. `s3`). */
  register(kind: string, backend: StorageBackend): this {
    this.extra.set(kind, backend);
    return this;
  }

  backend(loc: File | Folder): StorageBackend {
    const kind = loc.location.case;
    if (kind === 'fs') return this.fs;
    const b = kind ? this.extra.get(kind) : undefined;
    if (!b) throw new AppError(ErrorKind.InvalidInput, `unsupported storage location: ${kind ?? 'none'}`);
    return b;
  }

  download(file: File, localPath: string, signal?: AbortSignal): Promise<void> {
    return this.backend(file).download(file, localPath, signal);
  }
  upload(localPath: string, folder: Folder, name: string, options?: PutOptions): Promise<File> {
    return this.backend(folder).upload(localPath, folder, name, options);
  }
  stat(file: File): Promise<{ size: number }> {
    return this.backend(file).stat(file);
  }
  exists(file: File): Promise<boolean> {
    return this.backend(file).exists(file);
  }
  ensureWritable(folder: Folder): Promise<void> {
    return this.backend(folder).ensureWritable(folder);
  }
  remove(file: File): Promise<void> {
    return this.backend(file).remove(file);
  }
  removeTemporaries(folder: Folder): Promise<string[]> {
    return this.backend(folder).removeTemporaries(folder);
  }
  localPath(file: File): string | undefined {
    return this.backend(file).localPath(file);
  }
  openLocal(file: File): Promise<LocalFile | undefined> {
    return this.backend(file).openLocal(file);
  }
}

/**
 * The absolute path of a filesystem location after symlinks; throws AccessDenied
 * when it is outside every one of `roots` (the coordinator's job confinement).
 */
export function confinedPath(loc: File | Folder, roots: string[]): Promise<string> {
  return new FsBackend({ allowedRoots: roots }).checked(loc);
}

/** The File named `name` inside `folder` (same backend, same credentials). */
export function childFile(folder: Folder, name: string): File {
  const loc = folder.location;
  if (loc.case === 'fs')
    return create(FileSchema, { location: { case: 'fs', value: { path: path.join(loc.value.path, name) } } });
  if (loc.case === 's3') {
    const prefix = loc.value.path.replace(/\/+$/, '');
    return create(FileSchema, {
      location: { case: 's3', value: { ...loc.value, path: prefix ? `${prefix}/${name}` : name } },
    });
  }
  throw new AppError(ErrorKind.InvalidInput, 'folder has no location');
}

/** The sub-folder `name` of `folder`. */
export function childFolder(folder: Folder, name: string): Folder {
  const f = childFile(folder, name);
  return create(FolderSchema, { location: f.location });
}

/** The folder that contains a file. */
export function parentFolder(file: File): Folder {
  const loc = file.location;
  if (loc.case === 'fs')
    return create(FolderSchema, { location: { case: 'fs', value: { path: path.dirname(loc.value.path) } } });
  if (loc.case === 's3') {
    const i = loc.value.path.lastIndexOf('/');
    return create(FolderSchema, {
      location: { case: 's3', value: { ...loc.value, path: i < 0 ? '' : loc.value.path.slice(0, i) } },
    });
  }
  throw new AppError(ErrorKind.InvalidInput, 'file has no location');
}

/** A display name for logs and messages: a path or s3://bucket/key, never credentials. */
export function describe(loc: File | Folder | undefined): string {
  if (!loc) return '(none)';
  const l = loc.location;
  if (l.case === 'fs') return l.value.path;
  if (l.case === 's3') return `s3://${l.value.bucket}/${l.value.path}`;
  return '(none)';
}

/** The base name of a file. */
export function baseName(file: File): string {
  const l = file.location;
  if (l.case === 'fs') return path.basename(l.value.path);
  if (l.case === 's3') return l.value.path.split('/').pop() ?? '';
  return '';
}
