// Bad ladders against one running coordinator and one worker (separate OS
// processes): refused at submit with INVALID_ARGUMENT naming the rung, or (a rung
// larger than the source, known only after the split) the job fails naming it;
// afterwards a good two-rung ladder still encodes.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { type EncodeJob, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
let clip: string;
let handle: ClientHandle;

before(async () => {
  dir = await tmpDir('avspl1t-bad-ladder-');
  clip = await makeClip(dir.path, CLIPS.short);
  const coordinator = startProgram([
    ...['coordinator', '--listen', '127.0.0.1:0', '--db', path.join(dir.path, 'db.sqlite')],
    ...['--max-attempts', '2', '--log-level', 'warn'],
  ]);
  const address = await coordinator.firstLine();
  startWorker(address, path.join(dir.path, 'tmp'));
  handle = connectCoordinator(address);
});
after(async () => {
  handle?.close();
  await stopAll();
  await dir?.cleanup();
});

type Rung = {
  name?: string;
  settings?: { encoder: string; crf?: number; preset?: number };
  width?: number;
  height?: number;
  maxBitrateKbps?: number;
};
let n = 0;
function job(renditions: Rung[], ladder = ''): EncodeJob {
  n++;
  return {
    input: fileAt(clip),
    working: folderAt(path.join(dir.path, `work-${n}`)),
    output: folderAt(path.join(dir.path, `out-${n}`)),
    secondsPerSegment: 1,
    settings: { encoder: 'svt', crf: 35, preset: 12 },
    renditions,
    ladder,
  } as unknown as EncodeJob;
}

async function refused(j: EncodeJob, message: RegExp): Promise<void> {
  await assert.rejects(handle.client.submitJob({ job: j }), (err: unknown) => {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, Code.InvalidArgument, err.message);
    assert.match(err.rawMessage, message);
    return true;
  });
}

async function finished(j: EncodeJob, replacesJobId = '', timeoutMs = 240_000) {
  const { jobId } = await handle.client.submitJob({ job: j, replacesJobId });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { job: got } = await handle.client.getJob({ jobId });
    if (got && got.state !== JobState.QUEUED && got.state !== JobState.RUNNING) return got;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish: ${JSON.stringify(got?.state)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const av1 = (height: number, kbps = 200): Rung => ({
  settings: { encoder: 'svt', preset: 12 },
  height,
  maxBitrateKbps: kbps,
});
const h264 = (height: number, kbps = 200): Rung => ({
  settings: { encoder: 'x264', preset: 1 },
  height,
  maxBitrateKbps: kbps,
});

describe('bad ladders are refused at submit, naming the rung', () => {
  it('an unknown codec', () =>
    refused(
      job([av1(90), { settings: { encoder: 'vp9' }, height: 90, maxBitrateKbps: 100 }]),
      /renditions\[1\]: rendition 1.*unknown codec "vp9"/,
    ));
  it('a maximum bit rate of 0', () =>
    refused(job([av1(90), h264(72, 0)]), /rendition 1 \(h264-72p\): max_bitrate_kbps must be above 0/));
  it('duplicate rungs', () =>
    refused(
      job([av1(90), h264(90), { ...av1(90, 300), settings: { encoder: 'aom' } }]),
      /rendition 2 \(av1-90p\) duplicates rendition 0/,
    ));
  it('a rung name that is not a plain folder name', () =>
    refused(job([{ ...av1(90), name: '../escape' }]), /rendition 0 \(\.\.\/escape\): name must be/));
  it('an unknown ladder name, or a ladder name with renditions', async () => {
    await refused(job([], 'huge'), /job\.ladder: must be "single" or "default"/);
    await refused(job([av1(90)], 'default'), /either a ladder name or renditions/);
  });
});

describe('a rung larger than the source', () => {
  it('fails the job after the split, naming the rung and the source size', async () => {
    const got = await finished(job([av1(90), h264(1080, 3000)]));
    assert.equal(got.state, JobState.FAILED, `expected FAILED, got ${got.state}`);
    assert.match(got.failureReason, /rendition 1 \(h264-1080p\).*larger than the source \(320x180\)/);
  });
});

describe('the coordinator and worker keep serving', () => {
  it('a two-rung ladder (AV1 90p, H.264 72p) encodes into one folder per rung', async () => {
    const j = job([av1(90, 150), h264(72, 120)]);
    const got = await finished(j);
    assert.equal(got.state, JobState.SUCCEEDED, got.failureReason);
    assert.deepEqual(
      got.renditions.map((r) => [r.name, r.segmentsDone, r.segmentsTotal]),
      [
        ['av1-90p', got.segmentsTotal / 2, got.segmentsTotal / 2],
        ['h264-72p', got.segmentsTotal / 2, got.segmentsTotal / 2],
      ],
    );
    const out = (j.output!.location.value as { path: string }).path;
    const master = await readFile(path.join(out, 'master.m3u8'), 'utf8');
    assert.match(
      master,
      /RESOLUTION=128x72[^\n]*\nh264-72p\/video\.m3u8\n#EXT-X-STREAM-INF:[^\n]*RESOLUTION=160x90[^\n]*\nav1-90p\/video\.m3u8/,
    );
    // What `retry` sends back (the stored details, with the resolved ladder) is a valid job.
    assert.equal(got.details!.ladder, '');
    const again = await finished({ ...got.details!, mediaFolder: '' } as EncodeJob, got.id);
    assert.equal(again.state, JobState.SUCCEEDED, again.failureReason);
  });
  it('a default-ladder job resubmits as `retry` sends it (its stored rungs, no ladder name)', async () => {
    const got = await finished(job([], 'default'));
    assert.equal(got.state, JobState.SUCCEEDED, got.failureReason);
    assert.deepEqual(
      got.details!.renditions.map((r) => r.name),
      ['av1-180p', 'av1-144p', 'h264-180p', 'h264-90p'],
    );
    const again = await finished({ ...got.details!, mediaFolder: '' } as EncodeJob, got.id);
    assert.equal(again.state, JobState.SUCCEEDED, again.failureReason);
  });
});
