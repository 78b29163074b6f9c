// S3 end to end, as separate OS processes: an S3-compatible server on loopback
// (s3rver behind a SigV4-checking proxy), one coordinator and two workers. The
// input goes up with `submit --upload`, pieces and output stay on S3, and the
// playlist fetched from the server plays to the end in hls.js. Bad S3 locations
// fail the job with a readable reason, and no secret reaches GetJob, the
// database (when not forwarded) or any log line. The multipart upload of a file
// larger than the part size is covered by test/storage/s3.test.ts ("a 20 MiB
// file goes up as a multipart upload (8 MiB parts) and round-trips byte-exact").
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseMediaPlaylist } from '../../src/media/hls.js';
import { cli, startProgram, startWorker, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { checkOutput } from '../helpers/media-checks.js';
import { playHls } from '../helpers/player.js';
import { assertPlayedExactly, expectedPlayback } from '../helpers/player-checks.js';
import { type S3Server, startS3Server } from '../helpers/s3-server.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const KEY_ID = 'AKIAAVSPL1TE2ETEST';
const SECRET = 'e2e-S3cret-must-NEVER-appear-7f3a9c';
const WRONG_SECRET = 'wrong-S3cret-must-NEVER-appear-b41d';
const BUCKET = 'media';

let dir: TmpDir;
let clip: string;
let s3: S3Server;
let address: string;
let db: string;
/** Every output of the run that a user or operator could see, grepped for secrets at the end. */
const seen: string[] = [];
const programs: ReturnType<typeof startProgram>[] = [];

async function run(args: string[], timeoutMs?: number) {
  const r = await cli(args, timeoutMs);
  seen.push(r.stdout, r.stderr);
  return r;
}

const s3Args = () => ['--endpoint', s3.endpoint, '--region', s3.region];
const keyArgs = (secret = SECRET) => ['--access-key-id', KEY_ID, '--secret-access-key', secret];
const fast = ['--seconds-per-segment', '1', '--preset', '12', '--crf', '40'];

async function submit(input: string, working: string, output: string, extra: string[] = []) {
  const r = await run([
    'submit',
    '--coordinator',
    address,
    '--input',
    input,
    '--working-dir',
    working,
    '--output-dir',
    output,
    ...fast,
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { jobId: r.stdout.trim(), stderr: r.stderr };
}

async function wait(jobId: string) {
  const r = await run(['wait', jobId, '--coordinator', address], 300_000);
  const status = await run(['status', jobId, '--coordinator', address]);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, status: status.stdout };
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

before(async () => {
  dir = await tmpDir('avspl1t-s3-e2e-');
  s3 = await startS3Server({ credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } });
  await s3.createBucket(BUCKET, { cors: true });
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
  db = path.join(dir.path, 'coordinator.sqlite');
  // Workers get their own AWS chain through the environment (used when a job carries no keys);
  // the client commands inherit it too, which must not make them forward it.
  process.env.AWS_ACCESS_KEY_ID = KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = SECRET;
  const coordinator = startProgram([
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--db',
    db,
    '--log-level',
    'debug',
  ]);
  programs.push(coordinator);
  address = await coordinator.firstLine();
  for (const id of ['s3-worker-a', 's3-worker-b']) {
    programs.push(startWorker(address, path.join(dir.path, `tmp-${id}`), { id, logLevel: 'debug' }));
  }
});

after(async () => {
  await stopAll();
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  await s3?.stop();
  await dir?.cleanup();
});

describe('S3 end to end: coordinator + two worker processes', { concurrency: 1 }, () => {
  it('submit --upload to S3, pieces and output on S3: the playlist served by S3 plays to the end in hls.js', async () => {
    const { jobId, stderr } = await submit(clip, `s3://${BUCKET}/work/e2e`, `s3://${BUCKET}/out/e2e`, [
      '--upload',
      ...s3Args(),
      ...keyArgs(),
    ]);
    assert.match(stderr, /uploading/, 'upload progress was shown');
    assert.ok(
      s3.requests.some((r) => r.method === 'PUT' && r.url.startsWith(`/${BUCKET}/work/e2e/input/`)),
      'the input went to the working location',
    );
    const r = await wait(jobId);
    assert.equal(r.code, 0, `${r.stderr}\n${r.status}`);
    assert.equal(r.stdout.trim(), `s3://${BUCKET}/out/e2e/master.m3u8`);
    const master = s3.objectUrl(BUCKET, 'out/e2e/master.m3u8');
    assert.match(r.status, new RegExp(`url\\s+${master.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    // Content types as a player sees them.
    const type = async (key: string) => (await fetch(s3.objectUrl(BUCKET, key))).headers.get('content-type');
    assert.equal(await type('out/e2e/master.m3u8'), 'application/vnd.apple.mpegurl');
    const video = parseMediaPlaylist(await (await fetch(s3.objectUrl(BUCKET, 'out/e2e/video.m3u8'))).text());
    assert.equal(video.entries.length, 5);
    assert.equal(await type(`out/e2e/${video.entries[0]!.uri}`), 'video/mp4');
    const audio = parseMediaPlaylist(await (await fetch(s3.objectUrl(BUCKET, 'out/e2e/audio.m3u8'))).text());
    assert.equal(await type(`out/e2e/${audio.entries[0]!.uri}`), 'audio/mp4');

    // The page on another origin: the bucket's CORS rules are what let the player in.
    const played = await playHls(master, { player: 'hlsjs', pageOrigin: 'cross-origin', timeoutMs: 120_000 });
    assertPlayedExactly(played, await expectedPlayback(clip));
  });

  it('input on the filesystem, output on S3, keys from the environment: not forwarded, workers use their own chain', async () => {
    const { jobId } = await submit(
      clip,
      path.join(dir.path, 'work-fs'),
      `s3://${BUCKET}/out/from-fs`,
      s3Args(),
    );
    const r = await wait(jobId);
    assert.equal(r.code, 0, `${r.stderr}\n${r.status}`);
    const res = await fetch(s3.objectUrl(BUCKET, 'out/from-fs/master.m3u8'));
    assert.equal(res.status, 200);
    // Nothing to forward, nothing stored: the coordinator's database never saw the secret.
    const conn = new Database(db, { readonly: true });
    try {
      const blobs = [
        ...(conn.prepare('SELECT details AS b FROM jobs WHERE id = ?').all(jobId) as { b: Buffer }[]),
        ...(conn.prepare('SELECT payload AS b FROM tasks WHERE job_id = ?').all(jobId) as { b: Buffer }[]),
      ];
      assert.ok(blobs.length >= 3, `job and task rows: ${blobs.length}`);
      for (const { b } of blobs)
        assert.ok(!Buffer.from(b).includes(SECRET), 'secret stored for a job without keys');
    } finally {
      conn.close();
    }
  });

  it('input on S3, output on the filesystem (`encode`): the output passes the media checks', async () => {
    const out = path.join(dir.path, 'from-s3');
    const r = await run(
      [
        'encode',
        `s3://${BUCKET}/work/e2e/input/${path.basename(clip)}`,
        out,
        ...s3Args(),
        ...fast,
        '--jobs',
        '2',
      ],
      300_000,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), path.join(out, 'master.m3u8'));
    const report = await checkOutput(out, clip);
    assert.equal(report.segments, 5);
  });

  it('bad S3 locations fail the job with a readable reason: wrong secret, missing key, missing bucket (input or working), unreachable endpoint', async () => {
    const work = (name: string) => `s3://${BUCKET}/work/${name}`;
    const out = (name: string) => `s3://${BUCKET}/out/${name}`;
    const input = `s3://${BUCKET}/work/e2e/input/${path.basename(clip)}`;
    const port = await closedPort();
    const cases = [
      {
        job: await submit(input, work('wrong'), out('wrong'), [...s3Args(), ...keyArgs(WRONG_SECRET)]),
        reason: /access denied to s3:\/\/media\/work\/e2e\/input\/\S+ \(wrong secret access key\)/,
        attempts: 1,
      },
      {
        job: await submit(`s3://${BUCKET}/no/such.mp4`, work('nokey'), out('nokey'), s3Args()),
        reason: /input not found: s3:\/\/media\/no\/such\.mp4/,
        attempts: 1,
      },
      {
        job: await submit('s3://no-such-bucket/clip.mp4', work('nobucket'), out('nobucket'), s3Args()),
        reason: /input not found: s3:\/\/no-such-bucket\/clip\.mp4 \(bucket not found: no-such-bucket\)/,
        attempts: 1,
      },
      {
        job: await submit(input, 's3://no-such-bucket/work', out('nowork'), s3Args()),
        reason: /bucket not found: no-such-bucket/,
        attempts: 1,
      },
      {
        job: await submit(input, work('down'), out('down'), [
          '--endpoint',
          `http://127.0.0.1:${port}`,
          '--region',
          s3.region,
        ]),
        reason: new RegExp(
          `cannot reach S3 endpoint http://127\\.0\\.0\\.1:${port} \\(connection refused\\)`,
        ),
        attempts: 3,
      },
    ];
    for (const c of cases) {
      const r = await wait(c.job.jobId);
      assert.equal(r.code, 1, r.status);
      assert.match(r.status, /state\s+failed/);
      assert.match(r.stderr, c.reason, r.status);
      const failure = /^failure\s+(.*)$/m.exec(r.status)?.[1] ?? '';
      assert.match(failure, c.reason, r.status);
      if (c.attempts > 1) assert.match(failure, new RegExp(`after ${c.attempts} attempts`), r.status);
      else assert.doesNotMatch(failure, /after \d+ attempts/, r.status);
    }
  });

  it('a coordinator run with --no-store-credentials refuses jobs carrying keys and takes those without', async () => {
    const strict = startProgram([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--db',
      path.join(dir.path, 'strict.sqlite'),
      '--no-store-credentials',
    ]);
    programs.push(strict);
    const strictAddress = await strict.firstLine();
    const args = (extra: string[]) => [
      'submit',
      '--coordinator',
      strictAddress,
      '--input',
      `s3://${BUCKET}/in.mp4`,
      '--working-dir',
      `s3://${BUCKET}/w`,
      '--output-dir',
      `s3://${BUCKET}/o`,
      ...s3Args(),
      ...extra,
    ];
    const refused = await run(args(keyArgs()));
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error: job\.input\.s3\.credentials: this coordinator does not store S3 keys/,
    );
    const accepted = await run(args([...keyArgs(), '--no-forward-credentials']));
    assert.equal(accepted.code, 0, accepted.stderr);
  });

  it('GetJob/ListJobs output and every log line of the run contain no secret key', async () => {
    const jobs = await run(['jobs', '--coordinator', address, '--limit', '50']);
    assert.equal(jobs.code, 0, jobs.stderr);
    const ids = [...jobs.stdout.matchAll(/^([0-9a-zA-Z-]{8,})\s/gm)].map((m) => m[1]!);
    assert.ok(ids.length >= 6, jobs.stdout);
    for (const id of ids) {
      const json = await run(['status', id, '--json', '--coordinator', address]);
      assert.equal(json.code, 0, json.stderr);
    }
    assert.ok(
      seen.some(
        (t) => t.includes(`"endpoint": "${s3.endpoint}"`) || t.includes(`"endpoint":"${s3.endpoint}"`),
      ),
      'status --json printed the S3 locations',
    );
    for (const p of programs) {
      const { stdout, stderr } = p.output();
      seen.push(stdout, stderr);
      assert.ok(
        stderr.includes('"level":'),
        `the program logged (with --log-level debug): ${stderr.slice(0, 200)}`,
      );
    }
    const all = seen.join('\n');
    assert.ok(all.length > 10_000, `the run produced output (${all.length} bytes)`);
    for (const secret of [SECRET, WRONG_SECRET]) {
      const at = all.indexOf(secret);
      assert.equal(at, -1, `secret found: ...${all.slice(Math.max(0, at - 200), at + 50)}`);
    }
  });
});
