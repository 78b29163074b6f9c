// Makes a stored File readable by ffmpeg: its own path on a filesystem, or a
// download into the operation's temp dir.
import path from 'node:path';
import { AppError, ErrorKind } from '../errors.js';
import type { File } from '../gen/avspl1t/v1/storage_pb.js';
import { baseName, describe } from '../storage/index.js';
import type { OperationContext } from './api.js';

/**
 * Runs `fn` with a local path holding the file's bytes: the file itself on a
 * filesystem (held open, so what was checked is what is read), or a download into
 * the operation's temp dir. Throws NotFound/AccessDenied with the location in the message.
 */
export async function withLocalInput<T>(
  file: File,
  ctx: OperationContext,
  name: string | undefined,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  let size: number;
  try {
    size = (await ctx.storage.stat(file)).size;
  } catch (err) {
    throw inputError(file, err);
  }
  if (size === 0) throw new AppError(ErrorKind.Permanent, `input is empty (0 bytes): ${describe(file)}`);
  const direct = await ctx.storage.openLocal(file).catch((err: unknown) => {
    throw inputError(file, err);
  });
  if (direct) {
    try {
      return await fn(direct.path);
    } finally {
      await direct.close();
    }
  }
  const local = path.join(ctx.tmpDir, name ?? `input-${baseName(file).replace(/[^\w.-]/g, '_') || 'file'}`);
  await ctx.storage.download(file, local, ctx.signal);
  return fn(local);
}

/** A storage error about an input, with the location in the message. */
function inputError(file: File, err: unknown): AppError {
  const e = AppError.from(err);
  if (e.kind === ErrorKind.NotFound) {
    const why = e.message.startsWith('bucket not found') ? ` (${e.message})` : '';
    return new AppError(ErrorKind.NotFound, `input not found: ${describe(file)}${why}`);
  }
  if (e.kind === ErrorKind.AccessDenied)
    return new AppError(
      ErrorKind.AccessDenied,
      e.message.includes(describe(file)) ? e.message : `access denied: ${describe(file)}: ${e.message}`,
    );
  return e;
}
