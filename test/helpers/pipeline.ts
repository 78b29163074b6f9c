// Test-only: runs a whole job in one process without a coordinator (split → encodes + audio →
// manifest), for the tests that need a split option no job can ask for (stream-copied pieces of a
// local file, which the real path cuts only for inputs it cannot seek). Everything else goes
// through the real coordinator and workers (`avspl1t encode` / `submit`).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { groupPieces, longestFirst } from '../../src/coordinator/schedule-policy.js';
import type { ManifestResult, SplitResult } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import type { AudioRendition, EncoderSettings, Segment } from '../../src/gen/avspl1t/v1/media_pb.js';
import type { File, Folder } from '../../src/gen/avspl1t/v1/storage_pb.js';
import type { OperationContext } from '../../src/media/api.js';
import { encodeAudio } from '../../src/media/audio.js';
import { mapLimit } from '../../src/media/concurrency.js';
import { encode } from '../../src/media/encode.js';
import { manifest } from '../../src/media/manifest.js';
import { split } from '../../src/media/split.js';
import type { Storage } from '../../src/storage/index.js';

export interface PipelineOptions {
  storage: Storage;
  input: File;
  working: Folder;
  output: Folder;
  secondsPerSegment: number;
  settings: EncoderSettings;
  /** How the split hands pieces to the encodes (see SplitOptions.pieces). */
  pieces?: 'auto' | 'copy';
  jobs?: number;
  signal?: AbortSignal;
  onSegment?: (done: number, total: number) => void;
}

export interface PipelineResult {
  split: SplitResult;
  segments: Segment[];
  audio?: AudioRendition;
  manifest: ManifestResult;
}

/** Runs split, encodes and manifest in this process. */
export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  const cores = os.availableParallelism();
  const jobs = o.jobs ?? cores;
  const withCtx = async <T>(fn: (ctx: OperationContext) => Promise<T>, threads?: number): Promise<T> => {
    const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-op-'));
    try {
      return await fn({ storage: o.storage, tmpDir, signal: o.signal, threads });
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  };
  const s = await withCtx((ctx) =>
    split(
      { input: o.input, working: o.working, secondsPerSegment: o.secondsPerSegment, pieces: o.pieces },
      ctx,
    ),
  );
  const source = s.source!;
  let done = 0;
  const audioP = source.hasAudio
    ? withCtx((ctx) =>
        encodeAudio(
          { input: o.input, source, output: o.output, secondsPerSegment: o.secondsPerSegment },
          ctx,
        ),
      )
    : Promise.resolve(undefined);
  // The same task shapes and order as the coordinator's: costliest first.
  const grouped = groupPieces(s.pieces, jobs);
  const rank = longestFirst(grouped);
  const groups = grouped
    .map((g, i) => ({ g, r: rank[i]! }))
    .sort((a, b) => a.r - b.r)
    .map((x) => x.g);
  const perGroup = await mapLimit(groups, jobs, async (pieces, i) => {
    // Share the cores among the encodes running at once; the last few get more each.
    const running = Math.min(jobs, groups.length - i);
    const threads = Math.max(1, Math.floor(cores / running));
    const segs = await withCtx(
      (ctx) => encode({ pieces, source, output: o.output, settings: o.settings }, ctx),
      threads,
    );
    done += segs.length;
    o.onSegment?.(done, s.pieces.length);
    return segs;
  });
  const segments = perGroup.flat().sort((a, b) => a.index - b.index);
  const audio = await audioP;
  const m = await withCtx((ctx) => manifest({ segments, source, output: o.output, audio }, ctx));
  return { split: s, segments, audio, manifest: m };
}
