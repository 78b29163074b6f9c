/**
 * A stand-in for the media operations: no ffmpeg, instant results shaped like
 * the real ones, every call recorded, and hooks to make a call fail, hang until
 * aborted, or report progress.
 */
import { create } from '@bufbuild/protobuf';
import type { ManifestResult, SplitResult } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type AudioRendition, type Segment, SegmentSchema } from '../../src/gen/avspl1t/v1/media_pb.js';
import type {
  AudioOptions,
  EncodeOptions,
  ManifestOptions,
  OperationContext,
  SplitOptions,
} from '../../src/media/index.js';
import { childFile } from '../../src/storage/index.js';
import type { Operations } from '../../src/worker/index.js';
import { audioResult, manifestResult, splitResult } from '../fixtures/messages.js';

export interface FakeCall {
  kind: 'split' | 'encode' | 'audio' | 'manifest';
  index: number;
  tmpDir: string;
  /** Name given to the FakeOperations (one per worker in tests). */
  by: string;
}

export interface FakeHooks {
  pieces?: number;
  hasAudio?: boolean;
  /** Runs before an encode returns; throw to fail it, await ctx.signal to hang. */
  onEncode?: (opts: EncodeOptions, ctx: OperationContext) => Promise<void> | void;
  onSplit?: (opts: SplitOptions, ctx: OperationContext) => Promise<void> | void;
}

export class FakeOperations implements Operations {
  readonly calls: FakeCall[];

  constructor(
    private readonly hooks: FakeHooks = {},
    readonly name = 'fake',
    /** Share one call log between several fakes. */
    calls: FakeCall[] = [],
  ) {
    this.calls = calls;
  }

  async split(opts: SplitOptions, ctx: OperationContext): Promise<SplitResult> {
    this.calls.push({ kind: 'split', index: 0, tmpDir: ctx.tmpDir, by: this.name });
    await this.hooks.onSplit?.(opts, ctx);
    return splitResult(this.hooks.pieces ?? 3, this.hooks.hasAudio ?? false);
  }

  async encode(opts: EncodeOptions, ctx: OperationContext): Promise<Segment[]> {
    this.calls.push({ kind: 'encode', index: opts.pieces[0]!.index, tmpDir: ctx.tmpDir, by: this.name });
    ctx.onProgress?.(0.5);
    await this.hooks.onEncode?.(opts, ctx);
    // Rung by rung, as the real encode returns them.
    const rungs = opts.rungs ?? [{ output: opts.output, renditionIndex: opts.renditionIndex ?? 0 }];
    return rungs.flatMap((rung) =>
      opts.pieces.map((piece) =>
        create(SegmentSchema, {
          index: piece.index,
          file: childFile(rung.output, `seg-${piece.index}.m4s`),
          init: childFile(rung.output, 'init.mp4'),
          start: piece.start,
          duration: piece.duration,
          timescale: 1000,
          renditionIndex: rung.renditionIndex,
        }),
      ),
    );
  }

  async encodeAudio(_opts: AudioOptions, ctx: OperationContext): Promise<AudioRendition> {
    this.calls.push({ kind: 'audio', index: 0, tmpDir: ctx.tmpDir, by: this.name });
    return audioResult().audio!;
  }

  async manifest(_opts: ManifestOptions, ctx: OperationContext): Promise<ManifestResult> {
    this.calls.push({ kind: 'manifest', index: 0, tmpDir: ctx.tmpDir, by: this.name });
    return manifestResult();
  }
}

/** Resolves when `signal` aborts, rejecting like an operation that was killed. */
export function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    const fail = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    if (signal.aborted) fail();
    signal.addEventListener('abort', fail, { once: true });
  });
}
