// Bad inputs against one running coordinator and one worker (separate OS
// processes): each is refused at submit with INVALID_ARGUMENT or fails its job
// with a readable reason, and afterwards both still serve (a job whose paths
// hold spaces, quotes and unicode completes at the end).
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { type EncodeJob, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { type ClientHandle, connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

type JobInit = Omit<Partial<EncodeJob>, '$typeName' | 'input' | 'working' | 'output' | 'settings'> & {
  input?: unknown;
  working?: unknown;
  output?: unknown;
  settings?: unknown;
};

let dir: TmpDir;
let clip: string;
let address: string;
let handle: ClientHandle;
const FF = ['-hide_banner', '-loglevel', 'error', '-y', '-nostdin'];

before(async () => {
  dir = await tmpDir('avspl1t-bad-');
  clip = await makeClip(dir.path, CLIPS.short);
  const coordinator = startProgram([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--db',
    path.join(dir.path, 'db.sqlite'),
    '--max-attempts',
    '2',
    '--log-level',
    'warn',
  ]);
  address = await coordinator.firstLine();
  startWorker(address, path.join(dir.path, 'tmp'));
  handle = connectCoordinator(address);
});
after(async () => {
  handle?.close();
  await stopAll();
  await dir?.cleanup();
});

let n = 0;
/** A job on `input` with fresh working/output folders, overridden by `o`. */
function job(input: string, o: JobInit = {}): EncodeJob {
  n++;
  return {
    input: fileAt(input),
    working: folderAt(path.join(dir.path, `work-${n}`)),
    output: folderAt(path.join(dir.path, `out-${n}`)),
    secondsPerSegment: 1,
    settings: { encoder: 'svt', crf: 35, preset: 12 },
    ...o,
  } as EncodeJob;
}

async function refused(j: EncodeJob, message: RegExp): Promise<void> {
  await assert.rejects(handle.client.submitJob({ job: j }), (err: unknown) => {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, Code.InvalidArgument, err.message);
    assert.match(err.rawMessage, message);
    return true;
  });
}

/** Submits `j` and waits for its end; returns the final job. */
async function finished(j: EncodeJob, timeoutMs = 240_000) {
  const { jobId } = await handle.client.submitJob({ job: j });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { job: got } = await handle.client.getJob({ jobId });
    if (got && got.state !== JobState.QUEUED && got.state !== JobState.RUNNING) return got;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish: ${JSON.stringify(got?.state)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function fails(j: EncodeJob, reason: RegExp): Promise<void> {
  const got = await finished(j);
  assert.equal(got.state, JobState.FAILED, `expected FAILED, got ${got.state}`);
  assert.match(got.failureReason, reason);
}

describe('refused at submit with INVALID_ARGUMENT', () => {
  it('seconds_per_segment 0', () => refused(job(clip, { secondsPerSegment: 0 }), /seconds_per_segment/));
  it('seconds_per_segment negative', () =>
    refused(job(clip, { secondsPerSegment: -2 }), /seconds_per_segment/));
  it('seconds_per_segment huge (1e9)', () =>
    refused(job(clip, { secondsPerSegment: 1e9 }), /seconds_per_segment: must be at most/));
  it('seconds_per_segment NaN', () =>
    refused(job(clip, { secondsPerSegment: Number.NaN }), /seconds_per_segment/));
  it('crf out of range', () =>
    refused(job(clip, { settings: { encoder: 'svt', crf: 99, preset: 12 } }), /crf/));
  it('unknown encoder', () =>
    refused(job(clip, { settings: { encoder: 'x265', crf: 30, preset: 12 } }), /encoder/));
  it('input with no location', () => refused(job(clip, { input: {} }), /^job\.input: required/));
  it('s3 input with no bucket', () =>
    refused(
      job(clip, { input: { location: { case: 's3', value: { bucket: '', path: 'a.mp4' } } } }),
      /^job\.input\.s3\.bucket: required/,
    ));
  it('relative input path', () => refused(job('in.mp4'), /must be an absolute path/));
  it('parallelism 2^32-1', () =>
    refused(job(clip, { parallelism: 4294967295 }), /^job\.parallelism: must be at most/));
  it('an S3 endpoint with credentials in its URL, without echoing them', async () => {
    const location = {
      case: 's3',
      value: { bucket: 'media', credentials: { endpoint: 'http://KEY:SECRET@127.0.0.1:1/' } },
    };
    await refused(
      job(clip, { output: { location } }),
      /^job\.output\.s3\.credentials\.endpoint: must not contain credentials(?!.*SECRET)/,
    );
  });
  it('an input path longer than PATH_MAX', () =>
    refused(job(`/${'a'.repeat(5000)}`), /^job\.input\.fs\.path: longer than 4096 bytes$/));
  it('no job at all', async () => {
    await assert.rejects(handle.client.submitJob({}), (err: unknown) => {
      assert.ok(err instanceof ConnectError && err.code === Code.InvalidArgument);
      return true;
    });
  });
});

describe('malformed RPCs', () => {
  /** Posts raw bytes as a gRPC request body; returns the grpc-status. */
  function rawGrpc(method: string, body: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://${address}`);
      session.on('error', reject);
      const req = session.request({
        ':method': 'POST',
        ':path': `/avspl1t.v1.CoordinatorService/${method}`,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let status: string | undefined;
      req.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
      req.on('trailers', (h) => (status ??= h['grpc-status'] as string | undefined));
      req.on('data', () => {});
      req.on('end', () => {
        session.close();
        resolve(status ?? 'none');
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  const frame = (payload: Buffer, declared = payload.length) => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(declared, 1);
    return Buffer.concat([head, payload]);
  };

  it('garbage bytes as a gRPC body get an error status', async () => {
    const status = await rawGrpc('SubmitJob', Buffer.from('\xff\xfe garbage, not a frame \x00\x01'));
    assert.notEqual(status, '0');
  });
  it('a frame holding bytes that are not protobuf gets an error status', async () => {
    const status = await rawGrpc('SubmitJob', frame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a])));
    assert.notEqual(status, '0');
  });
  it('a frame shorter than its declared length gets an error status', async () => {
    const status = await rawGrpc('GetJob', frame(Buffer.from([0x0a, 0x01, 0x41]), 1000));
    assert.notEqual(status, '0');
  });
  it('a FinishTask for a task the worker does not hold is not accepted', async () => {
    const res = await handle.client
      .finishTask({
        workerId: 'intruder',
        taskId: '00000000-0000-0000-0000-000000000000',
        lease: 'forged',
        result: { case: 'failure', value: { reason: 'forged', transient: false } },
      })
      .then(
        (r) => r.accepted,
        (err: unknown) => (err instanceof ConnectError ? err.code : err),
      );
    assert.ok(res === false || res === Code.NotFound || res === Code.InvalidArgument, String(res));
  });
  it('a Heartbeat for a task the worker does not hold reports the lease invalid', async () => {
    const res = await handle.client
      .heartbeat({ workerId: 'intruder', taskId: 'nope', lease: 'forged', progress: 0.5 })
      .then(
        (r) => r.leaseValid,
        (err: unknown) => (err instanceof ConnectError ? err.code : err),
      );
    assert.ok(res === false || res === Code.NotFound || res === Code.InvalidArgument, String(res));
  });
});

describe('jobs that fail with a readable reason', () => {
  it('missing input', () => fails(job(path.join(dir.path, 'nope.mp4')), /not found|no such file/i));
  it('empty file', async () => {
    const p = path.join(dir.path, 'empty.mp4');
    await writeFile(p, '');
    await fails(job(p), /empty/i);
  });
  it('a text file named .mp4', async () => {
    const p = path.join(dir.path, 'text.mp4');
    await writeFile(p, 'this is not a video\n'.repeat(50));
    await fails(job(p), /video|invalid|format|probe/i);
  });
  it('a truncated MP4 (cut in half)', async () => {
    const p = path.join(dir.path, 'half.mp4');
    const bytes = await readFile(clip);
    await writeFile(p, bytes.subarray(0, bytes.length >> 1));
    await fails(job(p), /video|invalid|moov|probe|truncated/i);
  });
  it('audio-only input', async () => {
    const p = path.join(dir.path, 'audio.mp4');
    await run('ffmpeg', [...FF, '-f', 'lavfi', '-i', 'sine=duration=1', '-c:a', 'aac', p]);
    await fails(job(p), /video/i);
  });
  it('image-only input (PNG)', async () => {
    const p = path.join(dir.path, 'image.png');
    await run('ffmpeg', [...FF, '-f', 'lavfi', '-i', 'color=size=64x64', '-frames:v', '1', p]);
    await fails(job(p), /image|still|video|frame|duration/i);
  });
  it('absurd resolution (beyond the limit)', async () => {
    const p = path.join(dir.path, 'wide.mkv');
    await run('ffmpeg', [
      ...FF,
      '-f',
      'lavfi',
      '-i',
      'color=size=8200x16:rate=1',
      '-frames:v',
      '1',
      '-c:v',
      'ffv1',
      p,
    ]);
    await fails(job(p), /8200|resolution|width|limit|large/i);
  });
  it('absurd duration (beyond the limit)', async () => {
    const p = path.join(dir.path, 'long.mkv');
    // Two frames 50 hours apart: a tiny file that claims a huge duration.
    await run('ffmpeg', [
      ...FF,
      '-f',
      'lavfi',
      '-i',
      'color=size=64x64:rate=1/180000',
      '-frames:v',
      '2',
      '-c:v',
      'ffv1',
      p,
    ]);
    await fails(job(p), /duration|long|limit/i);
  });
  it('an HLS playlist named .mp4 (refers to another file)', async () => {
    const p = path.join(dir.path, 'playlist.mp4');
    await writeFile(p, `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.2,\n${clip}\n#EXT-X-ENDLIST\n`);
    await fails(job(p), /playlist or list \(hls\)/);
  });
  it('a live HLS playlist (no EXT-X-ENDLIST)', async () => {
    const p = path.join(dir.path, 'live.m3u8');
    await writeFile(p, `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.2,\n${clip}\n`);
    await fails(job(p), /playlist or list \(hls\)/);
  });
  it('an ffconcat list', async () => {
    const p = path.join(dir.path, 'list.ffconcat');
    await writeFile(p, `ffconcat version 1.0\nfile '${clip}'\n`);
    await fails(job(p), /playlist or list \(concat\)/);
  });
  it('an image-sequence pattern name', async () => {
    const one = path.join(dir.path, 'seq-001.png');
    await run('ffmpeg', [...FF, '-f', 'lavfi', '-i', 'color=size=64x64', '-frames:v', '1', one]);
    await copyFile(one, path.join(dir.path, 'seq-002.png'));
    await copyFile(one, path.join(dir.path, 'seq-%03d.png'));
    await fails(job(path.join(dir.path, 'seq-%03d.png')), /image sequence/);
  });
  it('output folder not writable (a path under a regular file)', async () => {
    const file = path.join(dir.path, 'regular-file');
    await writeFile(file, 'x');
    await fails(
      job(clip, { output: folderAt(path.join(file, 'out')) }),
      /directory|not writable|cannot|ENOTDIR|exist/i,
    );
  });
});

describe('the system still serves', () => {
  it('a job whose paths hold spaces, quotes and unicode completes end to end', async () => {
    const odd = path.join(dir.path, `sp ace 'q' "dq" ünï ✓`);
    await mkdir(odd);
    const input = path.join(odd, `clip "1" ünï.mp4`);
    await copyFile(clip, input);
    const out = path.join(odd, 'out ✓');
    const got = await finished(
      job(input, { output: folderAt(out), working: folderAt(path.join(odd, 'work ✓')) }),
    );
    assert.equal(got.state, JobState.SUCCEEDED, got.failureReason);
    const playlist = await readFile(path.join(out, 'video.m3u8'), 'utf8').catch(() => '');
    const master = await readFile(path.join(out, 'master.m3u8'), 'utf8').catch(() => '');
    assert.ok(playlist.includes('#EXTINF') || master.includes('#EXT-X-STREAM-INF'), 'playlist written');
  });
});
