import type { Segment } from '../gen/avspl1t/v1/media_pb.js';
import type { EncodeOptions, OperationContext } from './api.js';

/** Encodes exactly the piece's frames to one AV1 fMP4 HLS segment (+ the shared init segment). */
export async function encode(_opts: EncodeOptions, _ctx: OperationContext): Promise<Segment> {
  throw new Error('not implemented yet');
}
