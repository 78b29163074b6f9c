// The media operations a worker runs, behind one interface so tests can inject
// fakes. `runOperation` maps a Task to its operation and the operation's output
// to the FinishTask result.
import { create } from '@bufbuild/protobuf';
import { invalidInput } from '../errors.js';
import {
  AudioResultSchema,
  EncodeResultSchema,
  type FinishTaskRequest,
  type ManifestResult,
  type SplitResult,
  type Task,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import type { AudioRendition, Segment } from '../gen/avspl1t/v1/media_pb.js';
import type {
  AudioOptions,
  EncodeOptions,
  ManifestOptions,
  OperationContext,
  SplitOptions,
} from '../media/index.js';
import * as media from '../media/index.js';

/** What a worker can do. The real implementation is the media module. */
export interface Operations {
  split(opts: SplitOptions, ctx: OperationContext): Promise<SplitResult>;
  encode(opts: EncodeOptions, ctx: OperationContext): Promise<Segment[]>;
  encodeAudio(opts: AudioOptions, ctx: OperationContext): Promise<AudioRendition>;
  manifest(opts: ManifestOptions, ctx: OperationContext): Promise<ManifestResult>;
}

/** The media module's operations (ffmpeg). */
export const mediaOperations: Operations = {
  split: media.split,
  encode: media.encode,
  encodeAudio: media.encodeAudio,
  manifest: media.manifest,
};

export type TaskResult = Exclude<FinishTaskRequest['result'], { case: 'failure' } | { case: undefined }>;

function need<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw invalidInput(`task is missing ${field}`);
  return value;
}

/** Runs the operation a task asks for and wraps its output as a FinishTask result. */
export async function runOperation(ops: Operations, task: Task, ctx: OperationContext): Promise<TaskResult> {
  const k = task.kind;
  switch (k.case) {
    case 'split': {
      const v = k.value;
      const result = await ops.split(
        {
          input: need(v.input, 'split.input'),
          working: need(v.working, 'split.working'),
          secondsPerSegment: v.secondsPerSegment,
        },
        ctx,
      );
      return { case: 'split', value: result };
    }
    case 'encode': {
      const v = k.value;
      if (v.pieces.length === 0) throw invalidInput('task is missing encode.pieces');
      // The job's last tasks: the encoder may use every core (the other slots run dry).
      const encodeCtx = v.tail ? { ...ctx, threads: undefined } : ctx;
      // Several rungs from one decode: each rung brings its size, settings and folder.
      const rungs = v.rungs.map((r, k) => ({
        rendition: need(r.rendition, `encode.rungs[${k}].rendition`),
        renditionIndex: r.renditionIndex,
        output: need(r.output, `encode.rungs[${k}].output`),
      }));
      const first = rungs[0];
      const segments = await ops.encode(
        first
          ? {
              pieces: v.pieces,
              source: need(v.source, 'encode.source'),
              output: first.output,
              settings: need(first.rendition.settings, 'encode.rungs[0].rendition.settings'),
              rungs,
            }
          : {
              pieces: v.pieces,
              source: need(v.source, 'encode.source'),
              output: need(v.output, 'encode.output'),
              settings: need(v.settings, 'encode.settings'),
              rendition: v.rendition,
              renditionIndex: v.renditionIndex,
            },
        encodeCtx,
      );
      return { case: 'encode', value: create(EncodeResultSchema, { segments }) };
    }
    case 'audio': {
      const v = k.value;
      const audio = await ops.encodeAudio(
        {
          input: need(v.input, 'audio.input'),
          source: need(v.source, 'audio.source'),
          output: need(v.output, 'audio.output'),
          secondsPerSegment: v.secondsPerSegment,
        },
        ctx,
      );
      return { case: 'audio', value: create(AudioResultSchema, { audio }) };
    }
    case 'manifest': {
      const v = k.value;
      const result = await ops.manifest(
        {
          segments: v.segments,
          source: need(v.source, 'manifest.source'),
          output: need(v.output, 'manifest.output'),
          audio: v.audio,
          mediaFolder: v.mediaFolder || undefined,
          working: v.working,
          renditions: v.renditions,
          progressive: v.progressive,
        },
        ctx,
      );
      return { case: 'manifest', value: result };
    }
    default:
      throw invalidInput('task has no kind this worker knows (is the worker older than the coordinator?)');
  }
}
