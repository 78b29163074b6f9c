// A worker process whose first media segment upload stalls with its temporary
// file open (the file it reads is a FIFO nobody writes), so a test can SIGKILL
// it mid-upload. Prints "stalled <name>" once stuck. Run as
// `node stalling-worker.js <coordinator> <tmpRoot>`.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { File, Folder } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { type PutOptions, Storage } from '../../src/storage/index.js';
import { Worker } from '../../src/worker/index.js';

class StallingUploadStorage extends Storage {
  private stalled = false;

  override async upload(
    localPath: string,
    folder: Folder,
    name: string,
    options?: PutOptions,
  ): Promise<File> {
    if (this.stalled || !name.startsWith('seg-')) return super.upload(localPath, folder, name, options);
    this.stalled = true;
    const fifo = path.join(path.dirname(localPath), 'stall.fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    // The real upload opens its temporary file, then waits for bytes that never come.
    const pending = super.upload(fifo, folder, name, options);
    setTimeout(() => process.stdout.write(`stalled ${name}\n`), 300);
    return pending;
  }
}

const [address, tmpRoot] = process.argv.slice(2);
await Worker.start({ coordinator: address!, storage: new StallingUploadStorage(), tmpRoot, pollWaitMs: 500 });
