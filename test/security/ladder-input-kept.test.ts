// A ladder job writes each rung in a folder of its own under the output folder:
// an input that sits where a rung's files go (e.g. <output>/av1-180p/init.mp4) is
// refused at submit, as an input named like a playlist in the output folder is.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { checkInputKept } from '../../src/coordinator/output-safety.js';
import { EncodeJobSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-ladder-input-');
});
after(async () => {
  await dir?.cleanup();
});

const job = (input: string, out: string, ladder: string) =>
  create(EncodeJobSchema, {
    input: fileAt(input),
    working: folderAt(path.join(dir.path, 'work')),
    output: folderAt(out),
    secondsPerSegment: 1,
    ladder,
  });

it('an input in a rung folder of the output, named like a rung file, is refused for a ladder job', async () => {
  const out = path.join(dir.path, 'out');
  for (const name of ['init.mp4', 'seg-00003.m4s', 'video.m3u8', 'iframes.m3u8']) {
    const input = path.join(out, 'av1-180p', name);
    await mkdir(path.dirname(input), { recursive: true });
    await writeFile(input, 'precious');
    await assert.rejects(checkInputKept(job(input, out, 'default')), /would be overwritten.*av1-180p/, name);
  }
  // One rendition writes nothing in sub-folders; other names are never written.
  await assert.doesNotReject(checkInputKept(job(path.join(out, 'av1-180p', 'init.mp4'), out, 'single')));
  const other = path.join(out, 'av1-180p', 'holiday.mp4');
  await writeFile(other, 'precious');
  await assert.doesNotReject(checkInputKept(job(other, out, 'default')));
});

it('an input named iframes.m3u8 in the output folder is refused (the single rendition writes one there)', async () => {
  const out = path.join(dir.path, 'out2');
  await mkdir(out, { recursive: true });
  const input = path.join(out, 'iframes.m3u8');
  await writeFile(input, 'precious');
  await assert.rejects(checkInputKept(job(input, out, 'single')), /would be overwritten/);
});
