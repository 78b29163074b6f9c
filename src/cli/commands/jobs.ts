// Client commands: submit, status, jobs, wait, cancel, retry.
import { access, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { toJsonString } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { z } from 'zod';
import { LIMITS } from '../../coordinator/validate.js';
import { AppError, ErrorKind, invalidInput, notFound } from '../../errors.js';
import { type Job, JobSchema, JobState } from '../../gen/avspl1t/v1/coordinator_pb.js';
import type { File, Folder } from '../../gen/avspl1t/v1/storage_pb.js';
import { probeHeader } from '../../media/probe.js';
import { ENCODERS } from '../../media/settings.js';
import { baseName, childFile, childFolder, describe } from '../../storage/index.js';
import { parseFile, parseFolder } from '../../storage/location.js';
import { setClientSecurity, withClient } from '../client.js';
import { formatJobs, formatStatus, oneLine, stateName } from '../format.js';
import { resolveJobId } from '../job-ids.js';
import { type LadderFlags, ladderFlags, ladderOptions } from '../ladder-options.js';
import {
  boundedIntFlag,
  coordinatorFlag,
  defaultCoordinator,
  type EncoderFlags,
  encoderOptions,
  parseWith,
  positiveIntFlag,
} from '../options.js';
import { followJob, GaveUpWaiting } from '../progress.js';
import { resolveS3, type S3Flags, s3Flags } from '../s3-options.js';
import { UPLOAD_FOLDER, uploadInput } from '../upload.js';

/** Exit codes of `avspl1t wait`. */
export const WAIT_EXIT = { succeeded: 0, failed: 1, cancelled: 2, gaveUp: 3 } as const;

// "svt 8, aom 6, rav1e 8": the preset each encoder gets when --preset is not given.
const PRESET_DEFAULTS = Object.entries(ENCODERS)
  .map(([name, spec]) => `${name} ${spec.defaultPreset}`)
  .join(', ');

/** Adds the encoder flags shared by `submit` and `encode`. */
export function encoderFlags(cmd: Command): Command {
  return cmd
    .option('--seconds-per-segment <s>', 'segment length in seconds', '2')
    .option('--crf <n>', 'quality (0-63, lower is better)', '30')
    .option(
      '--preset <n>',
      `encoder speed preset (svt 0-13, aom 0-8, rav1e 0-10; default: ${PRESET_DEFAULTS})`,
    )
    .option('--encoder <name>', 'svt | aom | rav1e', 'svt');
}

/** Checks a local input file exists and is a regular file (S3 inputs are checked by the worker). */
export async function checkInput(file: File): Promise<void> {
  if (file.location.case !== 'fs') return;
  const p = file.location.value.path;
  const s = await stat(p).catch(() => undefined);
  if (!s) throw notFound(`input not found: ${p}`);
  if (!s.isFile()) throw invalidInput(`input is not a file: ${p}`);
  await access(p).catch(() => {
    throw new AppError(ErrorKind.AccessDenied, `input is not readable: ${p}`);
  });
}

/** Exit code of `submit` refusing a local input that is not a video file. */
export const NOT_A_VIDEO_EXIT = 2;

/**
 * Why a local input is not a video file (a quick ffprobe of its header, as the
 * workers will read it), or undefined. S3 inputs, and a machine without ffprobe,
 * leave the check to the workers.
 */
async function notAVideo(file: File): Promise<string | undefined> {
  if (file.location.case !== 'fs') return undefined;
  try {
    await probeHeader(file.location.value.path);
    return undefined;
  } catch (err) {
    const e = AppError.from(err);
    return e.kind === ErrorKind.Permanent && !/ is not installed/.test(e.message) ? e.message : undefined;
  }
}

/** Help of --progressive (encode and submit). */
export const PROGRESSIVE_HELP =
  'publish EVENT playlists while encoding (a player can start at once), replaced by the VOD playlists at the end';

export const OVERWRITE_HELP =
  "replace the output of the job that owns --output-dir (or an earlier encode's files there); the old master playlist stays until the new job completes";

/** Tells the user (stderr) whose output a submitted job replaces. */
export function printReplaced(jobId: string, replacedJobId: string, output: Folder): void {
  if (replacedJobId)
    process.stderr.write(`job ${jobId} replaces the output of job ${replacedJobId} in ${describe(output)}\n`);
}

/** Creates a local folder (S3 prefixes need nothing). */
export async function prepareFolder(folder: Folder, what: string): Promise<void> {
  if (folder.location.case !== 'fs') return;
  const p = folder.location.value.path;
  try {
    await mkdir(p, { recursive: true });
    await access(p, 2 /* W_OK */);
  } catch (err) {
    throw new AppError(
      ErrorKind.AccessDenied,
      `cannot write to the ${what} folder ${p}: ${AppError.from(err).message}`,
    );
  }
}

/**
 * Checks a local folder a job will write without creating it: the workers create
 * what they write, as their own user (the submitter may be another user). It must
 * be a directory, or missing below an existing directory.
 */
export async function checkFolder(folder: Folder, what: string): Promise<void> {
  if (folder.location.case !== 'fs') return;
  const p = folder.location.value.path;
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    const s = await stat(dir).catch(() => undefined);
    if (s?.isDirectory()) return;
    if (s) throw invalidInput(`the ${what} folder ${p} is not a directory: ${dir} is a file`);
    if (path.dirname(dir) === dir) throw notFound(`the ${what} folder ${p} has no existing parent`);
  }
}

export const withCoordinator = (cmd: Command) =>
  cmd
    .option('--coordinator <host:port>', 'coordinator address', defaultCoordinator())
    .option('--token <token>', 'bearer token for the coordinator (default: $AVSPL1T_TOKEN)')
    .option('--tls-ca <pem>', 'connect with TLS, trusting this CA certificate (default: $AVSPL1T_TLS_CA)')
    .hook('preAction', (c) => setClientSecurity(c.opts()));
const coordinatorOnly = z.object({ coordinator: coordinatorFlag });

function printOutcome(job: Job): void {
  const what = `job ${job.id} ${stateName(job.state)}`;
  if (job.state === JobState.SUCCEEDED) {
    process.stderr.write(`${what}\n`);
    process.stdout.write(`${describe(job.manifest)}\n`);
  } else if (job.state === JobState.FAILED) process.stderr.write(`${what}: ${oneLine(job.failureReason)}\n`);
  else process.stderr.write(`${what}\n`);
}

/** Follows a job to its end and sets the exit code (WAIT_EXIT); prints the outcome, or the Job as JSON. */
async function waitForJob(
  coordinator: string,
  jobId: string,
  o: { json?: boolean; giveUpMs?: number },
): Promise<void> {
  // Giving up is an answer, not an error of the call: it must not read as "cannot reach".
  const job = await withClient(coordinator, async (c) =>
    // Unreachable now: follow the id as typed, retrying (a prefix then resolves to nothing).
    followJob(c, await resolveJobId(c, jobId).catch(() => jobId), { giveUpMs: o.giveUpMs }).catch((err) => {
      if (err instanceof GaveUpWaiting) return err;
      throw err;
    }),
  );
  if (job instanceof GaveUpWaiting) {
    process.stderr.write(`error: ${oneLine(job.message)}\n`);
    process.exitCode = WAIT_EXIT.gaveUp;
    return;
  }
  if (o.json) process.stdout.write(`${toJsonString(JobSchema, job)}\n`);
  else printOutcome(job);
  process.exitCode =
    job.state === JobState.SUCCEEDED
      ? WAIT_EXIT.succeeded
      : job.state === JobState.CANCELLED
        ? WAIT_EXIT.cancelled
        : WAIT_EXIT.failed;
}

/** Adds submit, status, jobs, wait, cancel and retry. */
export function registerJobCommands(program: Command): void {
  s3Flags(
    ladderFlags(
      encoderFlags(
        withCoordinator(
          program
            .command('submit')
            .description('submit an encode job; prints its id')
            .requiredOption('--input <path|s3-url>', 'input video (required)')
            .requiredOption(
              '--working-dir <path|s3-url>',
              'folder for the split pieces, visible to all workers (created by the workers if missing) (required)',
            )
            .requiredOption(
              '--output-dir <path|s3-url>',
              'folder for the playlists and segments (created by the workers if missing) (required)',
            )
            .option(
              '--upload',
              'upload the local --input into <working-dir>/input/ first (progress on stderr)',
            )
            .option('--overwrite', OVERWRITE_HELP)
            .option('--progressive', PROGRESSIVE_HELP)
            .option('--quiet', 'no upload progress bar')
            .option('--wait', 'then follow the job as `wait` does (same exit codes)')
            .option('--json', 'print {"jobId": ...} (with --wait: the finished Job) as JSON')
            .option(
              '--parallelism <n>',
              'encodes the cluster runs at once (all worker slots): encode tasks then cover several segments, one encoder start-up for many, while the last tasks stay single segments (default 0: one segment per task)',
            ),
        ),
      ),
      'single',
    ),
  ).action(
    async (
      raw: EncoderFlags &
        LadderFlags &
        S3Flags & {
          input: string;
          workingDir: string;
          outputDir: string;
          coordinator: string;
          upload?: boolean;
          overwrite?: boolean;
          progressive?: boolean;
          quiet?: boolean;
          parallelism?: string;
          wait?: boolean;
          json?: boolean;
        },
    ) => {
      const { coordinator } = parseWith(coordinatorOnly, raw);
      const { parallelism } = parseWith(
        z.object({ parallelism: boundedIntFlag('parallelism', LIMITS.parallelism).optional() }),
        raw,
      );
      const { secondsPerSegment, settings } = encoderOptions(raw);
      const { ladder, renditions } = ladderOptions(raw, settings);
      const s3 = await resolveS3(raw);
      let input = parseFile(raw.input, s3.job);
      const working = parseFolder(raw.workingDir, s3.job);
      const output = parseFolder(raw.outputDir, s3.job);
      await checkInput(input);
      const refused = await notAVideo(input);
      if (refused) {
        process.stderr.write(`error: ${oneLine(`${refused}: ${raw.input}`)}\n`);
        process.exitCode = NOT_A_VIDEO_EXIT;
        return;
      }
      await checkFolder(working, 'working');
      await checkFolder(output, 'output');
      if (raw.upload) {
        if (input.location.case !== 'fs') throw invalidInput('--upload needs a local --input file');
        // The CLI uploads with every key it has; the job gets the locations as workers should see them.
        const stored = await uploadInput(input.location.value.path, parseFolder(raw.workingDir, s3.local), {
          quiet: raw.quiet,
        });
        input = childFile(childFolder(working, UPLOAD_FOLDER), baseName(stored));
      }
      const { jobId, replacedJobId } = await withClient(coordinator, (c) =>
        c.submitJob({
          job: {
            input,
            working,
            output,
            secondsPerSegment,
            settings,
            parallelism,
            ladder,
            renditions,
            progressive: raw.progressive ?? false,
          },
          overwrite: raw.overwrite ?? false,
        }),
      );
      printReplaced(jobId, replacedJobId, output);
      if (raw.wait) return waitForJob(coordinator, jobId, { json: raw.json });
      process.stdout.write(
        raw.json ? `${JSON.stringify({ jobId, replacedJobId: replacedJobId || undefined })}\n` : `${jobId}\n`,
      );
    },
  );

  withCoordinator(
    program
      .command('status')
      .description('show a job: state, progress, failure reason, playlist, retried tasks')
      .argument('<job-id>')
      .option('--json', 'print the Job message as JSON'),
  ).action(async (jobId: string, raw: { coordinator: string; json?: boolean }) => {
    const { coordinator } = parseWith(coordinatorOnly, raw);
    const { job } = await withClient(coordinator, async (c) =>
      c.getJob({ jobId: await resolveJobId(c, jobId) }),
    );
    process.stdout.write(`${raw.json ? toJsonString(JobSchema, job!) : formatStatus(job!)}\n`);
  });

  withCoordinator(
    program
      .command('jobs')
      .description('list the newest jobs')
      .option('--limit <n>', 'how many', '20')
      .option('--json', 'print the Job messages as a JSON array'),
  ).action(async (raw: { coordinator: string; limit: string; json?: boolean }) => {
    const o = parseWith(z.object({ coordinator: coordinatorFlag, limit: positiveIntFlag('limit') }), raw);
    const { jobs } = await withClient(o.coordinator, (c) => c.listJobs({ limit: o.limit }));
    process.stdout.write(
      raw.json
        ? `[${jobs.map((j) => toJsonString(JobSchema, j)).join(',')}]\n`
        : // One column spare on a terminal: a line as wide as it wraps on some.
          `${formatJobs(jobs, process.stdout.isTTY ? process.stdout.columns - 1 : undefined)}\n`,
    );
  });

  withCoordinator(
    program
      .command('wait')
      .description(
        'follow a job with a progress bar, through coordinator restarts; exit 0 succeeded, 1 failed, 2 cancelled, 3 gave up waiting',
      )
      .argument('<job-id>')
      .option(
        '--give-up-after <s>',
        'stop waiting (exit 3) once the coordinator has been unreachable this long',
        '600',
      )
      .option('--json', 'print the finished Job message as JSON'),
  ).action(async (jobId: string, raw: { coordinator: string; giveUpAfter: string; json?: boolean }) => {
    const o = parseWith(
      z.object({ coordinator: coordinatorFlag, giveUpAfter: positiveIntFlag('give-up-after') }),
      raw,
    );
    await waitForJob(o.coordinator, jobId, { json: raw.json, giveUpMs: o.giveUpAfter * 1000 });
  });

  withCoordinator(program.command('cancel').description('cancel a job').argument('<job-id>')).action(
    async (jobId: string, raw: { coordinator: string }) => {
      const { coordinator } = parseWith(coordinatorOnly, raw);
      const { job } = await withClient(coordinator, async (c) =>
        c.cancelJob({ jobId: await resolveJobId(c, jobId) }),
      );
      const already = job!.state !== JobState.CANCELLED ? ' (already finished)' : '';
      process.stdout.write(`job ${job!.id} ${stateName(job!.state)}${already}\n`);
    },
  );

  withCoordinator(
    program
      .command('retry')
      .alias('resubmit')
      .description(
        'submit a failed or cancelled job again, with the same input, folders and settings; prints the new id (S3 keys are never returned: the workers then use their own)',
      )
      .argument('<job-id>')
      .option('--json', 'print {"jobId": ...} as JSON'),
  ).action(async (jobId: string, raw: { coordinator: string; json?: boolean }) => {
    const { coordinator } = parseWith(coordinatorOnly, raw);
    const newId = await withClient(coordinator, async (c) => {
      const { job } = await c.getJob({ jobId: await resolveJobId(c, jobId) });
      if (job!.state !== JobState.FAILED && job!.state !== JobState.CANCELLED)
        throw invalidInput(
          `job ${job!.id} is ${stateName(job!.state)}: only a failed or cancelled job can be retried`,
        );
      // The job's own output folder is the new job's; one a newer job took since is refused.
      const details = { ...job!.details!, mediaFolder: '' };
      return (await c.submitJob({ job: details, replacesJobId: job!.id })).jobId;
    });
    process.stdout.write(raw.json ? `${JSON.stringify({ jobId: newId })}\n` : `${newId}\n`);
  });
}
