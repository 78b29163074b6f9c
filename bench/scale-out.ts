// Scale-out simulation: the real coordinator (own process, SQLite) and simulated
// single-slot workers that replay task durations of a 10-minute 1080p job,
// measured on this machine with the real media operations on a full-length source,
// with time compressed (`msPerSecond` ms of wall time per task second).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { rungsTogether } from '../src/coordinator/ladder-tasks.js';
import { groupPieces } from '../src/coordinator/schedule-policy.js';
import type { Task } from '../src/gen/avspl1t/v1/coordinator_pb.js';
import { EncoderSettingsSchema } from '../src/gen/avspl1t/v1/media_pb.js';
import { encode, encodeAudio, split } from '../src/media/index.js';
import type { CoordinatorClient } from '../src/rpc/index.js';
import { fileAt, folderAt, Storage } from '../src/storage/index.js';
import { makeSceneClip } from './lib.js';
import { Fleet, realisticSplit, spawnCoordinator, submit } from './sim.js';

/** Task durations (seconds of real work) of the simulated job. */
export interface JobProfile {
  segments: number;
  splitSeconds: number;
  encodeSeconds: number;
  audioSeconds: number;
  manifestSeconds: number;
  how: string;
}

const f = (x: number) => x.toFixed(2);
const elapsed = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};

/**
 * Measures split, one 2 s encode and audio on a `clipSeconds` 1080p clip with the
 * real operations; split and audio scale linearly to `jobSeconds`. Two profiles:
 * the split of a seekable file on a shared filesystem (pieces are ranges of the
 * source) and the split into stream copies (S3 inputs, MPEG-TS).
 */
export async function measureProfiles(
  jobSeconds = 600,
  clipSeconds = 10,
  preset = 8,
): Promise<{ ranges: JobProfile; copies: JobProfile }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-scale-'));
  try {
    const clip = path.join(dir, 'clip.mp4');
    makeSceneClip(clip, 1920, 1080, clipSeconds);
    const storage = new Storage();
    const ctx = (name: string) => {
      const tmpDir = path.join(dir, name);
      mkdirSync(tmpDir);
      return { storage, tmpDir };
    };
    const sps = 2;
    const output = folderAt(path.join(dir, 'out'));
    // Split and audio scale with the source's length: time them on a full-length
    // source, the clip repeated by a stream-copy concatenation (a minute of work, not
    // the hours a real 10-minute 1080p encode would take to make).
    const long = path.join(dir, 'long.mp4');
    const list = path.join(dir, 'list.txt');
    writeFileSync(
      list,
      Array.from({ length: Math.ceil(jobSeconds / clipSeconds) }, () => `file '${clip}'\n`).join(''),
    );
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', long]);
    const input = fileAt(long);
    let result: Awaited<ReturnType<typeof split>> | undefined;
    const splitSeconds = await elapsed(async () => {
      result = await split(
        { input, working: folderAt(path.join(dir, 'work')), secondsPerSegment: sps },
        ctx('split'),
      );
    });
    const copySeconds = await elapsed(() =>
      split(
        { input, working: folderAt(path.join(dir, 'copies')), secondsPerSegment: sps, pieces: 'copy' },
        ctx('copies'),
      ),
    );
    const source = result!.source!;
    const audioSeconds = await elapsed(() =>
      encodeAudio(
        { input, source, output: folderAt(path.join(dir, 'audio')), secondsPerSegment: sps },
        ctx('audio'),
      ),
    );
    const encodeSeconds = await elapsed(() =>
      encode(
        {
          pieces: [result!.pieces[1]!],
          source,
          output,
          settings: create(EncoderSettingsSchema, { encoder: 'svt', crf: 30, preset }),
        },
        ctx('encode'),
      ),
    );
    const profile = (seconds: number, how: string): JobProfile => ({
      segments: result!.pieces.length,
      splitSeconds: seconds,
      encodeSeconds,
      audioSeconds,
      manifestSeconds: 1,
      how:
        `measured here with the real operations on a ${jobSeconds} s 1920x1080 scene source (a ${clipSeconds} s clip ` +
        `repeated by stream-copy concatenation): split ${how} ${f(seconds)} s, audio ${f(audioSeconds)} s; ` +
        `one 2 s segment encode (libsvtav1 preset ${preset} crf 30, all cores) ${f(encodeSeconds)} s; ` +
        'manifest assumed 1 s',
    });
    return {
      ranges: profile(splitSeconds, 'into ranges of the source (seekable file on a shared filesystem)'),
      copies: profile(copySeconds, 'into stream copies (as for S3 or MPEG-TS inputs)'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ScaleRow {
  workers: number;
  /** Wall-clock ms that stood for one task second in this run. */
  msPerSecond: number;
  /** Simulated end-to-end seconds (wall time / time scale). */
  seconds: number;
  idealSeconds: number;
  /** ideal / actual. */
  efficiency: number;
  /** Speedup over one worker's ideal (serial + all tasks). */
  speedup: number;
  /** Amdahl cap: (serial + parallel) / serial. */
  amdahlCap: number;
  /**
   * Ladder jobs: split + the tasks the coordinator handed out (encodes, each of every
   * rung of its pieces, and audio) run costliest first, each on the worker free first,
   * with no dispatch cost + manifest: what a perfect fleet does with these tasks.
   */
  scheduleSeconds?: number;
  /** Ladder jobs: the encode tasks the coordinator handed out. */
  encodeTasks?: number;
  /**
   * Ladder jobs: wall ms from the split's FinishTask until the first encode task was
   * handed out, and until every worker had received its first task other than the
   * split (the start-up wave; the split result becomes the job's tasks meanwhile).
   */
  startupMs?: { first: number; allBusy: number };
}

/** A ladder-shaped job for runScaleOut: the source size the split reports and each rung's encode seconds per segment. */
export interface LadderShape {
  sourceSize: { width: number; height: number };
  /** Rung name → seconds of one segment's encode. */
  rungSeconds: ReadonlyMap<string, number>;
}

/** When the last of `durations` ends, run longest first, each on the worker free first. */
export function longestFirstSpan(durations: readonly number[], workers: number): number {
  const free = Array<number>(Math.max(1, workers)).fill(0);
  for (const d of [...durations].sort((a, b) => b - a)) {
    let k = 0;
    for (let j = 1; j < free.length; j++) if (free[j]! < free[k]!) k = j;
    free[k] = free[k]! + d;
  }
  return Math.max(...free);
}

/** The simulated job's tasks as the coordinator makes them, in task seconds. */
export interface SimulatedJob {
  /** Split + manifest: the parts nothing else overlaps. */
  serialSeconds: number;
  /** One entry per encode task: its pieces' seconds (of every rung, for a task of every rung). */
  encodeTasks: number[];
  /** Tasks the job makes in all: split, encodes, audio, manifest. */
  taskCount: number;
}

/**
 * The tasks of `profile`'s job (with `ladder`: the default ladder), grouped as the
 * coordinator groups the simulated split's pieces (groupPieces) for the job's
 * `parallelism` (0, unset, as `avspl1t submit` leaves it: one segment per task).
 * A ladder's encode task covers every rung of its pieces (EncodeTask.rungs) when
 * rungsTogether says so, else one rung of them.
 */
export function simulatedJob(profile: JobProfile, ladder?: LadderShape, parallelism = 0): SimulatedJob {
  const rungs = ladder ? [...ladder.rungSeconds.values()] : [profile.encodeSeconds];
  const groups = groupPieces(realisticSplit(profile.segments, true).value.pieces, parallelism);
  // A task of every rung lasts their sum; else a task per rung and group (ladderEncodeTasks).
  const perTask = rungsTogether(rungs.length, parallelism, false)
    ? [rungs.reduce((a, b) => a + b, 0)]
    : rungs;
  const encodeTasks = perTask.flatMap((seconds) => groups.map((g) => g.length * seconds));
  return {
    serialSeconds: profile.splitSeconds + profile.manifestSeconds,
    encodeTasks,
    taskCount: encodeTasks.length + 3,
  };
}

/**
 * Runs the job once per worker count. Time is compressed, but not so far that the
 * fleet asks more than `dispatchPerSecond` tasks/s of the coordinator (compression
 * multiplies the dispatch rate a real fleet needs): a task second lasts
 * max(`minMsPerSecond`, workers / (mean encode seconds × dispatchPerSecond)) ms.
 * With `ladder`, the job asks for the default ladder: with parallelism unset, a
 * task per segment and rung, lasting that rung's seconds. A run ends when the
 * coordinator marks the job finished (its finished_at).
 */
export async function runScaleOut(
  profile: JobProfile,
  workerCounts: number[],
  minMsPerSecond: number,
  dispatchPerSecond: number,
  log: (line: string) => void,
  ladder?: LadderShape,
): Promise<ScaleRow[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'avspl1t-scale-db-'));
  const rows: ScaleRow[] = [];
  const job = simulatedJob(profile, ladder);
  const serial = job.serialSeconds;
  const encodeWork = job.encodeTasks.reduce((a, b) => a + b, 0);
  // The time scale's dispatch rate is that of the encode tasks the coordinator hands out.
  const meanEncode = encodeWork / job.encodeTasks.length;
  const parallel = encodeWork + profile.audioSeconds;
  const encodeSeconds = (t: Task) => {
    if (t.kind.case !== 'encode') throw new Error('scale-out: not an encode task');
    const pieces = t.kind.value.pieces.length;
    if (!ladder) return pieces * profile.encodeSeconds;
    // A task of every rung (EncodeTask.rungs) of its pieces lasts the sum of its rungs, per piece.
    const names = t.kind.value.rungs.length
      ? t.kind.value.rungs.map((r) => r.rendition?.name ?? '')
      : [t.kind.value.rendition?.name ?? ''];
    let seconds = 0;
    for (const name of names) {
      const one = ladder.rungSeconds.get(name);
      if (one === undefined) throw new Error(`scale-out: the coordinator planned an unknown rung "${name}"`);
      seconds += one;
    }
    return pieces * seconds;
  };
  const durationS = (t: Task) => {
    const s =
      t.kind.case === 'split'
        ? profile.splitSeconds
        : t.kind.case === 'encode'
          ? encodeSeconds(t)
          : t.kind.case === 'audio'
            ? profile.audioSeconds
            : profile.manifestSeconds;
    return s;
  };
  try {
    for (const workers of workerCounts) {
      const msPerSecond = Math.max(minMsPerSecond, (workers * 1000) / (meanEncode * dispatchPerSecond));
      const coord = await spawnCoordinator(path.join(dir, `w${workers}.sqlite`));
      const fleet = new Fleet(coord.address, workers, 50, {
        pieces: profile.segments,
        hasAudio: true,
        waitMs: 10_000,
        durationMs: (t) => durationS(t) * msPerSecond,
        sourceSize: ladder?.sourceSize,
      });
      // The tasks handed out (by id: a retried task counts once), for the whole-task schedule.
      const handedOut = new Map<string, Task>();
      let firstEncodeAt = Number.NaN;
      fleet.onTask = (t, at) => {
        handedOut.set(t.id, t);
        if (t.kind.case === 'encode' && Number.isNaN(firstEncodeAt)) firstEncodeAt = at;
      };
      try {
        fleet.start();
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        const jobId = await submit(fleet.client, ladder ? { ladder: 'default' } : {});
        const finishedAtMs = await jobFinishedAt(fleet.client, jobId);
        const seconds = (finishedAtMs - t0) / msPerSecond;
        const tasks = [...handedOut.values()];
        const worked = tasks
          .filter((t) => t.kind.case === 'encode' || t.kind.case === 'audio')
          .map(durationS);
        if (tasks.length !== job.taskCount)
          throw new Error(
            `scale-out: the coordinator made ${tasks.length} tasks, the time scale assumed ${job.taskCount}`,
          );
        const idealSeconds = serial + parallel / workers;
        const row = {
          workers,
          msPerSecond,
          seconds,
          idealSeconds,
          efficiency: idealSeconds / seconds,
          speedup: (serial + parallel) / seconds,
          amdahlCap: (serial + parallel) / serial,
          ...(ladder
            ? {
                scheduleSeconds: serial + longestFirstSpan(worked, workers),
                encodeTasks: tasks.filter((t) => t.kind.case === 'encode').length,
                startupMs: {
                  first: firstEncodeAt - fleet.splitFinishAt,
                  allBusy: fleet.allBusyAt - fleet.splitFinishAt,
                },
              }
            : {}),
        };
        rows.push(row);
        log(
          `scale-out ${workers} workers: ${seconds.toFixed(1)} s simulated, ideal ${idealSeconds.toFixed(1)} s, ` +
            `efficiency ${row.efficiency.toFixed(3)}` +
            (row.scheduleSeconds === undefined
              ? ''
              : `, whole-task schedule ${row.scheduleSeconds.toFixed(1)} s (${(row.scheduleSeconds / seconds).toFixed(3)} of it), ` +
                `split to first / every worker busy ${row.startupMs?.first.toFixed(0)} / ${row.startupMs?.allBusy.toFixed(0)} ms`),
        );
      } finally {
        await fleet.close();
        await coord.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** When the coordinator marked job `jobId` finished (ms since the epoch, its clock); throws if it failed. */
async function jobFinishedAt(client: CoordinatorClient, jobId: string): Promise<number> {
  for (;;) {
    const job = (await client.getJob({ jobId })).job!;
    if (job.finishedAtMs > 0n) {
      if (job.failureReason) throw new Error(`scale-out: job failed: ${job.failureReason}`);
      return Number(job.finishedAtMs);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
