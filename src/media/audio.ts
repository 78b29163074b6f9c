import type { AudioRendition } from '../gen/avspl1t/v1/media_pb.js';
import type { AudioOptions, OperationContext } from './api.js';

/** Encodes the input's audio once to an AAC-LC fMP4 HLS rendition aligned with the video segments. */
export async function encodeAudio(_opts: AudioOptions, _ctx: OperationContext): Promise<AudioRendition> {
  throw new Error('not implemented yet');
}
