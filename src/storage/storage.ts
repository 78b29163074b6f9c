// The storage interface: every backend (filesystem, S3) implements it; nothing
// outside src/storage/ knows which backend a File or Folder uses.
import type { File, Folder } from '../gen/avspl1t/v1/storage_pb.js';

export interface PutOptions {
  contentType?: string;
  signal?: AbortSignal;
  /** Called with bytes transferred so far. */
  onProgress?: (bytes: number, total: number) => void;
}

/** One storage backend. Locations are the `location` cases of File/Folder. */
export interface StorageBackend {
  /** Copies the stored file to a local path (streamed, never whole in memory). */
  download(file: File, localPath: string, signal?: AbortSignal): Promise<void>;
  /** Stores a local file as `name` inside `folder`, atomically (never half-written), and returns it. */
  upload(localPath: string, folder: Folder, name: string, options?: PutOptions): Promise<File>;
  /** Size in bytes, or throws NotFound. */
  stat(file: File): Promise<{ size: number }>;
  /** Whether the file exists. */
  exists(file: File): Promise<boolean>;
  /** Makes sure the folder exists and can be written (creating it where that applies). */
  ensureWritable(folder: Folder): Promise<void>;
  /** Deletes the file; missing files are fine. */
  remove(file: File): Promise<void>;
  /**
   * Deletes what interrupted uploads left in the folder (`<name>.tmp-…` files of a
   * killed worker); returns their names. Only for when no upload into the folder
   * is meant to be running: it would fail. Backends whose writes are atomic by
   * themselves have none.
   */
  removeTemporaries(folder: Folder): Promise<string[]>;
  /** A path a local process (ffmpeg/ffprobe) can read directly, if this backend has one. */
  localPath(file: File): string | undefined;
  /**
   * Opens the file for local processes to read, if this backend has local files:
   * the path to give them stays on the file that was opened and checked until
   * `close()`, whatever is renamed or swapped in meanwhile.
   */
  openLocal(file: File): Promise<LocalFile | undefined>;
}

/** A local file held open for reading by child processes. */
export interface LocalFile {
  /** The path to read it by. */
  path: string;
  close(): Promise<void>;
}
