/**
 * Decodes the `aws-chunked` request body that AWS SDK v3 sends for streaming uploads
 * (`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`): hex size lines, data, and trailing
 * checksum headers. s3rver 3.7 doesn't know this encoding and would store the framing as object data.
 * Chunk signatures and trailer checksums are skipped, not verified.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** A stream that turns an aws-chunked body back into the object's bytes. */
export function awsChunkedDecoder(): Transform {
  let state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  let line = Buffer.alloc(0);
  let remaining = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      let at = 0;
      while (at < chunk.length) {
        if (state === 'size') {
          const end = chunk.indexOf('\n', at);
          const upTo = end < 0 ? chunk.length : end + 1;
          line = Buffer.concat([line, chunk.subarray(at, upTo)]);
          at = upTo;
          if (end < 0) continue;
          const text = line.toString('latin1').trim();
          line = Buffer.alloc(0);
          const size = Number.parseInt(text.split(';', 1)[0]!, 16);
          if (!Number.isFinite(size)) {
            callback(new Error(`aws-chunked: bad chunk size line ${JSON.stringify(text)}`));
            return;
          }
          remaining = size;
          state = size === 0 ? 'trailer' : 'data';
        } else if (state === 'data') {
          const take = Math.min(remaining, chunk.length - at);
          this.push(chunk.subarray(at, at + take));
          at += take;
          remaining -= take;
          if (remaining === 0) {
            state = 'crlf';
            remaining = 2;
          }
        } else if (state === 'crlf') {
          const take = Math.min(remaining, chunk.length - at);
          at += take;
          remaining -= take;
          if (remaining === 0) state = 'size';
        } else {
          at = chunk.length; // trailers (checksums) and the final CRLF
        }
      }
      callback();
    },
  });
}
