// `avspl1t encode` as a subprocess: prints the master playlist path on success;
// bad input gives one `error:` line and a non-zero exit, never a stack trace.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { cli } from './processes.js';

let dir: string;
let clip: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-cli-'));
  clip = await makeClip(dir, CLIPS.short);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('avspl1t encode', () => {
  it('encodes a clip and prints the master playlist path', async () => {
    const out = path.join(dir, 'out');
    const r = await cli(['encode', clip, out, '--preset', '12', '--jobs', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), path.join(out, 'master.m3u8'));
    assert.match(await readFile(r.stdout.trim(), 'utf8'), /#EXT-X-STREAM-INF:.*CODECS="av01\./);
  });

  const text = () => path.join(dir, 'notes.mp4');
  const empty = () => path.join(dir, 'empty.mp4');
  before(async () => {
    await writeFile(text(), 'this is not a video\n');
    await writeFile(empty(), '');
  });
  const cases: Array<[string, () => string[], RegExp]> = [
    ['missing input', () => ['encode', path.join(dir, 'nope.mp4'), path.join(dir, 'o1')], /input not found/],
    ['not a video', () => ['encode', text(), path.join(dir, 'o2')], /not a video file/],
    ['zero-length input', () => ['encode', empty(), path.join(dir, 'o3')], /empty/],
    [
      'output folder under a file',
      () => ['encode', clip, '/etc/passwd/out'],
      /cannot write to the output folder/,
    ],
    [
      'seconds_per_segment 0',
      () => ['encode', clip, path.join(dir, 'o4'), '--seconds-per-segment', '0'],
      /seconds-per-segment/,
    ],
    [
      'negative seconds_per_segment',
      () => ['encode', clip, path.join(dir, 'o5'), '--seconds-per-segment', '-2'],
      /seconds-per-segment/,
    ],
    [
      'crf out of range',
      () => ['encode', clip, path.join(dir, 'o6'), '--crf', '64'],
      /crf: 64 is out of range/,
    ],
    ['unknown encoder', () => ['encode', clip, path.join(dir, 'o7'), '--encoder', 'x264'], /unknown encoder/],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: one clear error line, non-zero exit`, async () => {
      const r = await cli(args());
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.match(r.stderr.trim(), /^error: [^\n]+$/, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '');
    });
  }
});
