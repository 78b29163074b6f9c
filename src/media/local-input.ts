// Makes a stored File readable by ffmpeg: its own path on a filesystem, or a
// download into the operation's temp dir.
import path from 'node:path';
import { AppError, ErrorKind } from '../errors.js';
import type { File } from '../gen/avspl1t/v1/storage_pb.js';
import { baseName, describe } from '../storage/index.js';
import type { OperationContext } from './api.js';

/** A local path holding the file's bytes; throws NotFound/AccessDenied with the location in the message. */
export async function localInput(file: File, ctx: OperationContext, name?: string): Promise<string> {
  let size: number;
  try {
    size = (await ctx.storage.stat(file)).size;
  } catch (err) {
    const e = AppError.from(err);
    if (e.kind === ErrorKind.NotFound) {
      const why = e.message.startsWith('bucket not found') ? ` (${e.message})` : '';
      throw new AppError(ErrorKind.NotFound, `input not found: ${describe(file)}${why}`);
    }
    if (e.kind === ErrorKind.AccessDenied)
      throw new AppError(
        ErrorKind.AccessDenied,
        e.message.includes(describe(file)) ? e.message : `access denied: ${describe(file)}: ${e.message}`,
      );
    throw e;
  }
  if (size === 0) throw new AppError(ErrorKind.Permanent, `input is empty (0 bytes): ${describe(file)}`);
  const direct = ctx.storage.localPath(file);
  if (direct) return direct;
  const local = path.join(ctx.tmpDir, name ?? `input-${baseName(file).replace(/[^\w.-]/g, '_') || 'file'}`);
  await ctx.storage.download(file, local, ctx.signal);
  return local;
}
