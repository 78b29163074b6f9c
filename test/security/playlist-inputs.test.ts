// Inputs that make ffmpeg open other files (HLS playlists, concat lists, image
// sequences), against a coordinator with --allowed-root and a confined worker:
// each job fails with a reason naming what the input is, and nothing of the file
// outside the root reaches the output. Also: a worker without roots says so.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type EncodeJob, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { type Program, startProgram, stopAll } from '../cli/processes.js';
import { run } from '../helpers/exec.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const FF = ['-hide_banner', '-loglevel', 'error', '-y', '-nostdin'];
let dir: TmpDir;
let root: string;
let secret: string;
let handle: ClientHandle;
let worker: Program;

before(async () => {
  dir = await tmpDir('avspl1t-playlists-');
  root = path.join(dir.path, 'root');
  await mkdir(root);
  await mkdir(path.join(dir.path, 'outside'));
  // A perfectly encodable video, outside the root: no job may read it.
  secret = path.join(dir.path, 'outside', 'secret.ts');
  await run('ffmpeg', [
    ...FF,
    ...['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10:duration=2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-f', 'mpegts', secret],
  ]);
  const coordinator = startProgram([
    ...['coordinator', '--listen', '127.0.0.1:0', '--db', path.join(dir.path, 'db.sqlite')],
    ...['--allowed-root', root, '--max-attempts', '1', '--log-level', 'warn'],
  ]);
  const address = await coordinator.firstLine();
  worker = startProgram([
    ...['worker', '--coordinator', address, '--tmp-dir', path.join(dir.path, 'tmp')],
    ...['--allowed-root', root, '--log-level', 'warn'],
  ]);
  handle = connectCoordinator(address);
});
after(async () => {
  handle?.close();
  await stopAll();
  await dir?.cleanup();
});

let n = 0;
/** Runs a job on `input` (inside the root) to its end; returns the job and its output folder's files. */
async function runJob(input: string) {
  n++;
  const output = path.join(root, `out-${n}`);
  const job = {
    input: fileAt(input),
    working: folderAt(path.join(root, `work-${n}`)),
    output: folderAt(output),
    secondsPerSegment: 1,
    settings: { encoder: 'svt', crf: 40, preset: 12 },
  } as unknown as EncodeJob;
  const { jobId } = await handle.client.submitJob({ job });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { job: got } = await handle.client.getJob({ jobId });
    if (got && got.state !== JobState.QUEUED && got.state !== JobState.RUNNING) {
      const files = await readdir(output).catch(() => [] as string[]);
      return { job: got, files };
    }
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The job on `input` failed with `reason` and left no media in its output folder. */
async function refused(input: string, reason: RegExp) {
  const { job, files } = await runJob(input);
  assert.equal(job.state, JobState.FAILED, `expected FAILED, got ${job.state}: ${files.join(', ')}`);
  assert.match(job.failureReason, reason);
  assert.deepEqual(
    files.filter((f) => /\.(m4s|mp4|m3u8)$/.test(f)),
    [],
    'no media written from the outside file',
  );
}

const playlist = () => `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n${secret}\n#EXT-X-ENDLIST\n`;

describe('inputs that reference other files are refused by a confined worker', () => {
  it('an .m3u8 inside the root whose segment is an absolute path outside it', async () => {
    const p = path.join(root, 'list.m3u8');
    await writeFile(p, playlist());
    await refused(p, /\bhls\b.*refer|playlist/i);
  });
  it('the same playlist saved as .mp4', async () => {
    const p = path.join(root, 'playlist-named.mp4');
    await writeFile(p, playlist());
    await refused(p, /\bhls\b.*refer|playlist/i);
  });
  it('a live playlist (no EXT-X-ENDLIST) fails at once instead of hanging the probe', async () => {
    const p = path.join(root, 'live.m3u8');
    await writeFile(p, playlist().replace('#EXT-X-ENDLIST\n', ''));
    const started = Date.now();
    await refused(p, /\bhls\b.*refer|playlist/i);
    assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
  });
  it('an ffconcat list (also named .mp4)', async () => {
    const text = `ffconcat version 1.0\nfile '${secret}'\n`;
    const p = path.join(root, 'list.ffconcat');
    await writeFile(p, text);
    await refused(p, /\bconcat\b.*refer/i);
    const q = path.join(root, 'concat-named.mp4');
    await writeFile(q, text);
    await refused(q, /\bconcat\b.*refer/i);
  });
  it('an image-sequence pattern name', async () => {
    const frame = path.join(root, 'frame-001.png');
    await run('ffmpeg', [...FF, '-f', 'lavfi', '-i', 'color=size=64x64', '-frames:v', '1', frame]);
    await copyFile(frame, path.join(root, 'frame-002.png'));
    const pattern = path.join(root, 'frame-%03d.png');
    await copyFile(frame, pattern);
    await refused(pattern, /image/i);
  });
  it('the confined worker does not warn that it runs unconfined', () => {
    assert.doesNotMatch(worker.output().stderr, /unconfined|without --allowed-root/i);
  });
});

it('a worker started without --allowed-root warns at start that it runs unconfined', async () => {
  const unconfined = startProgram([
    ...['worker', '--coordinator', '127.0.0.1:9', '--tmp-dir', path.join(dir.path, 'tmp2')],
    ...['--log-level', 'warn'],
  ]);
  const deadline = Date.now() + 20_000;
  while (!/without --allowed-root/.test(unconfined.output().stderr) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  assert.match(unconfined.output().stderr, /"level":40.*without --allowed-root/);
  unconfined.child.kill('SIGKILL');
  await unconfined.exited;
});
