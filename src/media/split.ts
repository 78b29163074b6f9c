import type { SplitResult } from '../gen/avspl1t/v1/coordinator_pb.js';
import type { OperationContext, SplitOptions } from './api.js';

/** Probes the input and cuts it into stream-copied pieces of `secondsPerSegment`. */
export async function split(_opts: SplitOptions, _ctx: OperationContext): Promise<SplitResult> {
  throw new Error('not implemented yet');
}
