// `avspl1t encode` in one process: split → encodes (N at once) → manifest, with a
// progress bar. Used until/unless the embedded coordinator takes this command over.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { AppError, ErrorKind } from '../errors.js';
import { normalizeSettings, runPipeline, settingsProblem } from '../media/index.js';
import { MIN_SECONDS_PER_SEGMENT } from '../media/split.js';
import { describe, fileAt, folderAt, Storage } from '../storage/index.js';

export interface EncodeCommandOptions {
  secondsPerSegment: string;
  crf: string;
  preset?: string;
  encoder: string;
  jobs?: string;
}

/** Parses a numeric flag or throws InvalidInput naming it. */
export function numberFlag(name: string, value: string, integer = false): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new AppError(
      ErrorKind.InvalidInput,
      `--${name} must be ${integer ? 'an integer' : 'a number'}, got "${value}"`,
    );
  return n;
}

/** Runs the whole job locally and prints the master playlist path. */
export async function encodeLocal(input: string, outputDir: string, o: EncodeCommandOptions): Promise<void> {
  const secondsPerSegment = numberFlag('seconds-per-segment', o.secondsPerSegment);
  if (!(secondsPerSegment >= MIN_SECONDS_PER_SEGMENT))
    throw new AppError(
      ErrorKind.InvalidInput,
      `--seconds-per-segment must be at least ${MIN_SECONDS_PER_SEGMENT}, got ${secondsPerSegment}`,
    );
  const settings = normalizeSettings({
    encoder: o.encoder,
    crf: numberFlag('crf', o.crf, true),
    preset: o.preset === undefined ? undefined : numberFlag('preset', o.preset, true),
  });
  const problem = settingsProblem(settings);
  if (problem) throw new AppError(ErrorKind.InvalidInput, problem.replace(/^settings\./, '--'));
  const jobs = o.jobs === undefined ? os.availableParallelism() : numberFlag('jobs', o.jobs, true);
  if (jobs < 1) throw new AppError(ErrorKind.InvalidInput, `--jobs must be at least 1, got ${jobs}`);

  const storage = new Storage();
  const inputFile = fileAt(path.resolve(input));
  const output = folderAt(path.resolve(outputDir));
  if (!(await storage.exists(inputFile)))
    throw new AppError(ErrorKind.NotFound, `input not found: ${describe(inputFile)}`);
  try {
    await storage.ensureWritable(output);
  } catch (err) {
    throw new AppError(
      ErrorKind.AccessDenied,
      `cannot write to the output folder ${describe(output)}: ${AppError.from(err).message}`,
    );
  }
  const working = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-work-'));
  const interactive = process.stderr.isTTY;
  const bar = new cliProgress.SingleBar(
    {
      format: 'encoding [{bar}] {value}/{total} segments | {percentage}% | ETA {eta_formatted}',
      stream: process.stderr,
      noTTYOutput: !interactive,
      notTTYSchedule: 2000,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  try {
    const result = await runPipeline({
      storage,
      input: inputFile,
      working: folderAt(working),
      output,
      secondsPerSegment,
      settings,
      jobs,
      onSegment: (done, total) => {
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
    });
    if (started) bar.stop();
    const src = result.split.source!;
    process.stderr.write(
      `encoded ${src.frameCount} frames (${src.width}x${src.height}) into ${result.segments.length} AV1 segments${result.audio ? ' + AAC audio' : ''}\n`,
    );
    process.stdout.write(`${describe(result.manifest.master)}\n`);
  } finally {
    if (started) bar.stop();
    await rm(working, { recursive: true, force: true });
  }
}
