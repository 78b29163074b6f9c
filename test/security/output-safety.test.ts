// Output locations that would lose data, with real coordinator and worker
// processes: a job whose files would replace its own input is refused at
// SubmitJob (the input stays byte for byte); a second job into another job's
// output is refused, and with --overwrite the finished job's master playlist
// keeps naming only a complete job's files while the new one runs and is
// cancelled; a worker SIGKILLed mid-upload leaves no temporary file behind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Code, ConnectError } from '@connectrpc/connect';
import { type Job, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { type CoordinatorClient, connectCoordinator } from '../../src/rpc/index.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { parseFile, parseFolder } from '../../src/storage/location.js';
import { cli, startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-output-safety-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

async function coordinator(name: string, extra: string[] = []) {
  const db = path.join(dir.path, `${name}.sqlite`);
  const program = startProgram([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--db',
    db,
    '--log-level',
    'warn',
    ...extra,
  ]);
  return program.firstLine();
}

const encoderFlags = ['--seconds-per-segment', '1', '--preset', '12', '--crf', '40'];

function submitArgs(address: string, input: string, working: string, output: string, extra: string[] = []) {
  return [
    'submit',
    '--coordinator',
    address,
    '--input',
    input,
    '--working-dir',
    working,
    '--output-dir',
    output,
    ...encoderFlags,
    ...extra,
  ];
}

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, Code.InvalidArgument, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

async function waitFinished(
  client: CoordinatorClient,
  jobId: string,
  each?: () => Promise<void>,
): Promise<Job> {
  for (let i = 0; ; i++) {
    const { job } = await client.getJob({ jobId });
    await each?.();
    if (job!.state !== JobState.QUEUED && job!.state !== JobState.RUNNING) return job!;
    if (i > 3000) throw new Error(`job ${jobId} did not finish`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a job whose files would replace its input is refused at SubmitJob, naming both, and the input is intact', async () => {
  const address = await coordinator('own-input');
  const same = path.join(dir.path, 'same');
  await mkdir(same);
  const input = path.join(same, 'init.mp4');
  await copyFile(clip, input);
  const before = await sha256(input);
  const work = path.join(dir.path, 'same-work');

  // The CLI: submit, and encode (its own coordinator) — output folder = the input's folder.
  const submitted = await cli(submitArgs(address, input, work, same));
  assert.notEqual(submitted.code, 0, submitted.stdout);
  assert.match(submitted.stderr, new RegExp(`${input}.*${same}|${same}.*${input}`));
  const encoded = await cli(['encode', input, same, ...encoderFlags]);
  assert.notEqual(encoded.code, 0, encoded.stdout);
  assert.match(encoded.stderr, /init\.mp4/);

  const h = connectCoordinator(address);
  try {
    const job = (o: { input?: string; working?: string; output: string }) => ({
      job: {
        input: fileAt(o.input ?? input),
        working: folderAt(o.working ?? work),
        output: folderAt(o.output),
        secondsPerSegment: 1,
        settings: { encoder: 'svt', crf: 40, preset: 12 },
      },
    });
    // The same folder spelled with `..`, and through a symlink.
    await refused(h.client.submitJob(job({ output: `${same}/../same` })), /init\.mp4/);
    const link = path.join(dir.path, 'link');
    await symlink(same, link);
    await refused(h.client.submitJob(job({ output: link })), /init\.mp4/);
    // A playlist name, a segment name; the working folder's pieces.
    for (const name of ['master.m3u8', 'seg-00002.m4s', 'audio-00001.m4s']) {
      const other = path.join(same, name);
      await copyFile(clip, other);
      await refused(
        h.client.submitJob(job({ input: other, output: same })),
        new RegExp(name.replace('.', '\\.')),
      );
    }
    const piece = path.join(same, 'piece-00000.nut');
    await copyFile(clip, piece);
    await refused(
      h.client.submitJob(job({ input: piece, working: same, output: path.join(dir.path, 'o') })),
      /piece-00000\.nut/,
    );
    // S3: the same bucket and key.
    await refused(
      h.client.submitJob({
        job: {
          input: parseFile('s3://media/out/init.mp4'),
          working: parseFolder('s3://media/work'),
          output: parseFolder('s3://media/out/'),
          secondsPerSegment: 1,
          settings: { encoder: 'svt', crf: 40, preset: 12 },
        },
      }),
      /s3:\/\/media\/out\/init\.mp4/,
    );
  } finally {
    h.close();
  }
  assert.equal(await sha256(input), before, 'the input is unchanged');
});

/** The files a master playlist refers to (media playlists, init segments, segments), recursively. */
async function referenced(master: string): Promise<string[]> {
  const base = path.dirname(master);
  const text = await readFile(master, 'utf8');
  const uris = [...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!);
  uris.push(...text.split('\n').filter((l) => l.trim() && !l.startsWith('#')));
  const files: string[] = [];
  for (const uri of uris) {
    const playlist = path.join(base, uri);
    const parsed = parseMediaPlaylist(await readFile(playlist, 'utf8'));
    const at = path.dirname(playlist);
    files.push(playlist, path.join(at, parsed.map!), ...parsed.entries.map((e) => path.join(at, e.uri)));
  }
  return files;
}

/** Decodes the whole stream behind a master playlist; returns its video frame count. */
async function decodedFrames(master: string): Promise<number> {
  const { stdout, stderr } = await run('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    master,
  ]);
  assert.equal(stderr.trim(), '', `decode errors: ${stderr}`);
  // One line per variant stream of the master playlist (all the same video).
  return Number(stdout.trim().split('\n')[0]);
}

test('a second job into a finished job output is refused; with --overwrite the first job stays whole until the second completes', async () => {
  const address = await coordinator('owned');
  startWorker(address, path.join(dir.path, 'tmp-owned'));
  const out = path.join(dir.path, 'owned-out');
  const work = path.join(dir.path, 'owned-work');
  const h = connectCoordinator(address);
  try {
    const first = await cli(submitArgs(address, clip, work, out));
    assert.equal(first.code, 0, first.stderr);
    const firstId = first.stdout.trim();
    assert.equal((await waitFinished(h.client, firstId)).state, JobState.SUCCEEDED);
    const master = path.join(out, 'master.m3u8');
    const files = await referenced(master);
    const sums = new Map(await Promise.all(files.map(async (f) => [f, await sha256(f)] as const)));
    const frames = await decodedFrames(master);
    assert.ok(frames > 100, `frames: ${frames}`);

    const again = await cli(submitArgs(address, clip, work, out));
    assert.notEqual(again.code, 0, again.stdout);
    assert.match(again.stderr, new RegExp(`${firstId}.*--overwrite`));
    // `encode` has its own database: it sees the earlier encode's files.
    const encoded = await cli(['encode', clip, out, ...encoderFlags]);
    assert.notEqual(encoded.code, 0, encoded.stdout);
    assert.match(encoded.stderr, /--overwrite/);

    const second = await cli(submitArgs(address, clip, work, out, ['--overwrite']));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`replaces.*${firstId}`));
    const secondId = second.stdout.trim();
    // At every look while the second job runs, the master names the first job's files, unchanged.
    let cancelled = false;
    let looks = 0;
    const look = async () => {
      looks++;
      const now = await referenced(master);
      assert.deepEqual(now, files, 'the master playlist names the first job files');
      for (const f of now) assert.equal(await sha256(f), sums.get(f), `${f} unchanged`);
      const { job } = await h.client.getJob({ jobId: secondId });
      if (!cancelled && job!.segmentsDone >= 2) {
        cancelled = true;
        await h.client.cancelJob({ jobId: secondId });
      }
    };
    const ended = await waitFinished(h.client, secondId, look);
    assert.equal(ended.state, JobState.CANCELLED, 'cancelled mid-way');
    await new Promise((r) => setTimeout(r, 1000)); // uploads of the cancelled tasks settle
    await look();
    assert.ok(looks > 3, `looked ${looks} times`);
    assert.equal(await decodedFrames(master), frames);

    // A replacing job that completes takes over the master playlist.
    const third = await cli(submitArgs(address, clip, work, out, ['--overwrite']));
    assert.equal(third.code, 0, third.stderr);
    const thirdId = third.stdout.trim();
    assert.equal((await waitFinished(h.client, thirdId)).state, JobState.SUCCEEDED);
    const replaced = await referenced(master);
    assert.ok(
      replaced.every((f) => f.startsWith(path.join(out, thirdId))),
      replaced.join(' '),
    );
    assert.equal(await decodedFrames(master), frames);
  } finally {
    h.close();
  }
});

/** Every name under `root` (recursively) that looks like an upload's temporary file. */
async function temporaries(root: string): Promise<string[]> {
  const found: string[] = [];
  const names = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  for (const n of names) if (/\.tmp-/.test(n)) found.push(n);
  return found;
}

test('a worker SIGKILLed mid-upload leaves no temporary file once the job ends', async () => {
  const address = await coordinator('killed', ['--lease-seconds', '2']);
  const out = path.join(dir.path, 'killed-out');
  const work = path.join(dir.path, 'killed-work');
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'stalling-worker.js');
  const stalling: ChildProcess = spawn(
    process.execPath,
    [script, address, path.join(dir.path, 'tmp-stall')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const h = connectCoordinator(address);
  try {
    const stalled = new Promise<string>((resolve) => {
      let text = '';
      stalling.stdout!.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        if (text.includes('\n')) resolve(text.trim());
      });
    });
    const submitted = await cli(submitArgs(address, clip, work, out));
    assert.equal(submitted.code, 0, submitted.stderr);
    const jobId = submitted.stdout.trim();
    assert.match(await stalled, /^stalled seg-/);
    assert.equal((await temporaries(out)).length, 1, 'the stalled upload has its temporary file');
    stalling.kill('SIGKILL');
    await new Promise((r) => stalling.once('exit', r));
    startWorker(address, path.join(dir.path, 'tmp-killed'));
    assert.equal((await waitFinished(h.client, jobId)).state, JobState.SUCCEEDED);
    assert.deepEqual(await temporaries(out), []);
    assert.deepEqual(await temporaries(work), []);
    assert.ok((await stat(path.join(out, 'master.m3u8'))).size > 0);
  } finally {
    h.close();
    stalling.kill('SIGKILL');
  }
});
