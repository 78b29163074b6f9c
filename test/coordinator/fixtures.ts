/**
 * Messages for coordinator and worker tests: a valid job, and the results a
 * worker would report for each kind of task (no media is touched).
 */
import { create } from '@bufbuild/protobuf';
import type { Coordinator } from '../../src/coordinator/index.js';
import {
  type AudioResult,
  AudioResultSchema,
  type EncodeJob,
  EncodeJobSchema,
  type EncodeResult,
  EncodeResultSchema,
  type FinishTaskRequest,
  type ManifestResult,
  ManifestResultSchema,
  type SplitResult,
  SplitResultSchema,
  type Task,
} from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { fileAt, folderAt } from '../../src/storage/index.js';

let outputs = 0;

/** A valid job on filesystem paths under `root`, with an output folder of its own (a location has one owner). */
export function sampleJob(root = '/data', overrides: Partial<Omit<EncodeJob, '$typeName'>> = {}): EncodeJob {
  return create(EncodeJobSchema, {
    input: fileAt(`${root}/in.mp4`),
    working: folderAt(`${root}/work`),
    output: folderAt(`${root}/out-${++outputs}`),
    secondsPerSegment: 2,
    settings: { encoder: 'svt', crf: 30, preset: 12 },
    ...overrides,
  });
}

/** A split result with `pieces` pieces of 2 s (time base 1/1000). */
export function splitResult(pieces: number, hasAudio = false): SplitResult {
  return create(SplitResultSchema, {
    source: {
      width: 320,
      height: 180,
      frameRate: { num: 30, den: 1 },
      timeBase: { num: 1, den: 1000 },
      duration: pieces * 2000,
      frameCount: pieces * 60,
      hasAudio,
    },
    pieces: Array.from({ length: pieces }, (_, i) => ({
      index: i,
      file: fileAt(`/data/work/piece-${i}.mkv`),
      start: i * 2000,
      duration: 2000,
    })),
  });
}

export function encodeResult(index: number): EncodeResult {
  return create(EncodeResultSchema, {
    segments: [
      {
        index,
        file: fileAt(`/data/out/seg-${index}.m4s`),
        init: fileAt('/data/out/init.mp4'),
        start: index * 2000,
        duration: 2000,
        timescale: 1000,
      },
    ],
  });
}

export function audioResult(): AudioResult {
  return create(AudioResultSchema, {
    audio: { playlist: fileAt('/data/out/audio.m3u8'), codecs: 'mp4a.40.2' },
  });
}

export function manifestResult(): ManifestResult {
  return create(ManifestResultSchema, {
    master: fileAt('/data/out/master.m3u8'),
    mediaPlaylist: fileAt('/data/out/video.m3u8'),
  });
}

/** The successful result a worker would report for `task`. */
export function resultFor(task: Task, pieces = 3, hasAudio = false) {
  switch (task.kind.case) {
    case 'split':
      return { case: 'split' as const, value: splitResult(pieces, hasAudio) };
    case 'encode':
      return { case: 'encode' as const, value: encodeResult(task.kind.value.pieces[0]!.index) };
    case 'audio':
      return { case: 'audio' as const, value: audioResult() };
    case 'manifest':
      return { case: 'manifest' as const, value: manifestResult() };
    default:
      throw new Error('task without kind');
  }
}

/** A FinishTask request from `workerId` for `task` (its lease unless `lease` is given). */
export function finishRequest(
  workerId: string,
  task: Task,
  result: FinishTaskRequest['result'],
  options: { wantNext?: boolean; lease?: string } = {},
): FinishTaskRequest {
  return {
    $typeName: 'avspl1t.v1.FinishTaskRequest',
    workerId,
    taskId: task.id,
    lease: options.lease ?? task.lease,
    result,
    wantNext: options.wantNext ?? false,
  };
}

/** Finishes `task` successfully as `workerId`. */
export function succeed(
  c: Coordinator,
  workerId: string,
  task: Task,
  pieces = 3,
  hasAudio = false,
): Promise<boolean> {
  return c.finishTask(finishRequest(workerId, task, resultFor(task, pieces, hasAudio)));
}

/** Reports a failure of `task` as `workerId`. */
export function fail(
  c: Coordinator,
  workerId: string,
  task: Task,
  reason: string,
  flags: { transient?: boolean; released?: boolean } = {},
) {
  return c.finishTask(
    finishRequest(workerId, task, {
      case: 'failure',
      value: {
        $typeName: 'avspl1t.v1.TaskFailure',
        reason,
        transient: flags.transient ?? false,
        released: flags.released ?? false,
      },
    }),
  );
}

/** Claims without waiting. */
export function claim(c: Coordinator, workerId: string): Promise<Task | undefined> {
  return c.getTask(workerId, 0, new AbortController().signal);
}
