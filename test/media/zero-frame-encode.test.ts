// An encode whose range yields no frame (its listed frames do not decode where
// the split saw them, as when a container's index lies): libsvtav1 flushed with
// no frame never returns, so the encode must stop ffmpeg and fail by itself, in
// seconds, not wait for the task timeout. Also: a child that ignores SIGTERM is
// still killed at once on abort and on timeout.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ErrorKind } from '../../src/errors.js';
import { PieceSchema } from '../../src/gen/avspl1t/v1/media_pb.js';
import { run as runChild } from '../../src/media/ffmpeg.js';
import { encode, normalizeSettings, split } from '../../src/media/index.js';
import { fileAt, folderAt, Storage } from '../../src/storage/index.js';
import { run } from '../helpers/exec.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-zero-');
});
after(() => dir?.cleanup());

it('an encode range that yields no frame fails within seconds with a reason, and writes nothing', async () => {
  const source = path.join(dir.path, 'src.mp4');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-nostdin'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', source],
  ]);
  const storage = new Storage();
  const s = await split(
    { input: fileAt(source), working: folderAt(path.join(dir.path, 'work')), secondsPerSegment: 1 },
    { storage, tmpDir: await mkdtemp(path.join(dir.path, 'split-')) },
  );
  const real = s.pieces[1]!;
  // The same range, but its frames listed where the file has none (10 s later).
  const later = (t: number) => t + 10 * s.source!.timeBase!.den;
  const piece = create(PieceSchema, { ...real, framePts: real.framePts.map(later) });
  const out = path.join(dir.path, 'out');
  // A hang is cut off by this test at 100 s (ffmpeg killed), so it fails rather than sticks.
  const guard = AbortSignal.timeout(100_000);
  const started = Date.now();
  await assert.rejects(
    encode(
      {
        pieces: [piece],
        source: s.source!,
        output: folderAt(out),
        settings: normalizeSettings({ preset: 12 }),
      },
      { storage, tmpDir: await mkdtemp(path.join(dir.path, 'encode-')), signal: guard },
    ),
    (err: unknown) => {
      assert.ok(!guard.aborted, 'the encode hung until the guard stopped it');
      assert.match(String(err), /no frame/i);
      assert.equal((err as { kind?: string }).kind, ErrorKind.Permanent);
      return true;
    },
  );
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
  assert.deepEqual(await readdir(out).catch(() => []), []);
});

it('a child that ignores SIGTERM is killed at once on abort and on timeout', async () => {
  const script = path.join(dir.path, 'stubborn.sh');
  await writeFile(script, "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n");
  await chmod(script, 0o755);
  let started = Date.now();
  await assert.rejects(runChild(script, [], { timeoutMs: 500 }), /timed out/);
  assert.ok(Date.now() - started < 5000, `timeout kill took ${Date.now() - started} ms`);
  started = Date.now();
  await assert.rejects(runChild(script, [], { signal: AbortSignal.timeout(500) }), /cancelled/);
  assert.ok(Date.now() - started < 5000, `abort kill took ${Date.now() - started} ms`);
});
