// A fault injector for tests: a Storage whose first `failures` uploads throw a
// Transient AppError (as an S3 503 would), then behaves normally.
import { transient } from '../../src/errors.js';
import type { File, Folder } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { type PutOptions, Storage } from '../../src/storage/index.js';

export class FlakyUploadStorage extends Storage {
  /** Uploads refused so far. */
  injected = 0;

  constructor(private readonly failures: number) {
    super();
  }

  override upload(localPath: string, folder: Folder, name: string, options?: PutOptions): Promise<File> {
    if (this.injected < this.failures) {
      this.injected++;
      return Promise.reject(
        transient(`injected storage fault ${this.injected}/${this.failures} (503 Slow Down)`),
      );
    }
    return super.upload(localPath, folder, name, options);
  }
}
