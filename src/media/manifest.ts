import type { ManifestResult } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { ManifestOptions, OperationContext } from './api.js';

/** Writes the media playlist(s) and the multivariant playlist; returns the master playlist. */
export async function manifest(_opts: ManifestOptions, _ctx: OperationContext): Promise<ManifestResult> {
  throw new Error('not implemented yet');
}
