// `avspl1t encode`: the distributed system in one process — an embedded
// coordinator on a temporary SQLite file and N local workers on loopback, through
// the same code paths as separate machines. Prints the master playlist path.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { LIMITS, startCoordinator } from '../../coordinator/index.js';
import { AppError, ErrorKind } from '../../errors.js';
import { JobState } from '../../gen/avspl1t/v1/coordinator_pb.js';
import { createLogger } from '../../log.js';
import { connectCoordinator } from '../../rpc/client.js';
import { describe, folderAt } from '../../storage/index.js';
import { parseFile, parseFolder } from '../../storage/location.js';
import { Worker } from '../../worker/index.js';
import { oneLine } from '../format.js';
import { type LadderFlags, ladderFlags, ladderOptions } from '../ladder-options.js';
import {
  boundedIntFlag,
  defaultParallelism,
  type EncoderFlags,
  encoderOptions,
  logLevelFlag,
  parseWith,
  positiveIntFlag,
} from '../options.js';
import { followJob } from '../progress.js';
import { resolveS3, type S3Flags, s3Flags } from '../s3-options.js';
import { onShutdownSignals } from '../signals.js';
import { checkInput, encoderFlags, OVERWRITE_HELP, PROGRESSIVE_HELP, prepareFolder } from './jobs.js';

type EncodeFlags = EncoderFlags &
  LadderFlags &
  S3Flags & { jobs?: string; threads?: string; logLevel: string; overwrite?: boolean; progressive?: boolean };

/** Adds the `encode` command. */
export function registerEncode(program: Command): void {
  s3Flags(
    ladderFlags(
      encoderFlags(
        program
          .command('encode')
          .description(
            'encode a file to an HLS rendition ladder (AV1 + H.264) on this machine (embedded coordinator + local workers)',
          )
          .argument('<input>', 'input video (path or s3://bucket/key)')
          .argument('<output-dir>', 'folder for the playlists and segments (path or s3://bucket/prefix)'),
      ),
      'default',
    ),
  )
    .option('--overwrite', OVERWRITE_HELP)
    .option('--progressive', PROGRESSIVE_HELP)
    .option('--jobs <n>', 'tasks run at once (default: number of cores)')
    .option('--threads <n>', 'encoder threads per task (default: cores / tasks at once, at least 1)')
    .option('--log-level <level>', 'logs on stderr: silent | error | warn | info | debug', 'silent')
    .action(encodeCommand);
}

async function encodeCommand(input: string, outputDir: string, raw: EncodeFlags): Promise<void> {
  const { secondsPerSegment, settings } = encoderOptions(raw);
  const { ladder, renditions } = ladderOptions(raw, settings);
  const o = parseWith(
    z.object({
      jobs: boundedIntFlag('jobs', LIMITS.parallelism).optional(),
      threads: positiveIntFlag('threads').optional(),
      logLevel: logLevelFlag,
    }),
    raw,
  );
  // The workers run in this process: they use the same keys as the command, forwarded or not.
  const s3 = await resolveS3(raw);
  const inputFile = parseFile(input, s3.local);
  const output = parseFolder(outputDir, s3.local);
  await checkInput(inputFile);
  await prepareFolder(output, 'output');

  const log = createLogger(o.logLevel, 'encode');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-encode-'));
  const cancel = new AbortController();
  let uninstall: (() => void) | undefined;
  try {
    const coordinator = await startCoordinator({
      listen: '127.0.0.1:0',
      db: path.join(tmp, 'state.sqlite'),
      log,
      // Nobody scrapes this coordinator; prom-client's load is a visible share of a short encode.
      metrics: false,
    });
    const concurrency = o.jobs ?? defaultParallelism();
    const worker = await Worker.start({
      coordinator: coordinator.address,
      id: `local-${process.pid}`,
      concurrency,
      threads: o.threads,
      tmpRoot: path.join(tmp, 'tasks'),
      log,
    });
    const client = connectCoordinator(coordinator.address);
    try {
      const { jobId } = await client.client.submitJob({
        job: {
          input: inputFile,
          working: folderAt(path.join(tmp, 'work')),
          output,
          secondsPerSegment,
          settings,
          parallelism: concurrency,
          ladder,
          renditions,
          progressive: raw.progressive ?? false,
        },
        overwrite: raw.overwrite ?? false,
      });
      uninstall = onShutdownSignals(() => {
        cancel.abort();
        void client.client.cancelJob({ jobId }).catch(() => {});
      });
      const job = await followJob(client.client, jobId, { signal: cancel.signal }).catch((err) => {
        if (cancel.signal.aborted) throw new AppError(ErrorKind.Cancelled, 'cancelled');
        throw err;
      });
      if (job.state === JobState.CANCELLED) throw new AppError(ErrorKind.Cancelled, 'cancelled');
      if (job.state !== JobState.SUCCEEDED)
        throw new AppError(ErrorKind.Permanent, oneLine(job.failureReason || 'job failed'));
      for (const w of job.warnings) process.stderr.write(`warning: ${oneLine(w)}\n`);
      const rungs = job.renditions.map((r) => r.name).join(', ');
      process.stderr.write(
        rungs
          ? `encoded ${job.segmentsTotal} segments (${rungs})\n`
          : `encoded ${job.segmentsTotal} AV1 segments\n`,
      );
      process.stdout.write(`${describe(job.manifest)}\n`);
    } finally {
      client.close();
      await worker.stop({ giveBack: true });
      await coordinator.close();
    }
  } finally {
    uninstall?.();
    await rm(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
  await exitNow();
}

/**
 * Ends the process once stdout and stderr are flushed. Everything the encode started is
 * stopped and awaited by now; what is left is node freeing its heap on the way out
 * (bench/REPORT.md, "Short clip"), which a finished command need not wait for.
 */
async function exitNow(): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((r) => s.write('', r))));
  process.exit();
}
