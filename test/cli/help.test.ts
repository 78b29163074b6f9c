// Help text an operator relies on: required options are marked, and --preset
// shows the preset each encoder gets without it (checked against what a job
// submitted without --preset is actually given, as the coordinator stores it).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { startCoordinator } from './operator.js';
import { cli, stopAll } from './processes.js';

let dir: TmpDir;
before(async () => {
  dir = await tmpDir('avspl1t-help-');
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/** `avspl1t <command> --help` with wrapped lines joined: one space between words. */
async function help(command: string): Promise<string> {
  const r = await cli([command, '--help']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.replace(/\s+/g, ' ');
}

it('submit --help marks --input, --working-dir and --output-dir as required, and no other option', async () => {
  const text = await help('submit');
  for (const flag of ['--input', '--working-dir', '--output-dir'])
    assert.match(text, new RegExp(`${flag} <path\\|s3-url> [^-]*\\(required\\)`), text);
  assert.equal(text.match(/\(required\)/g)?.length, 3, text);
});

it('--preset help of submit and encode shows the default preset, the one a job without --preset gets', async () => {
  const { address } = await startCoordinator(path.join(dir.path, 'jobs.db'));
  const input = await makeClip(dir.path, CLIPS.short);
  const presets: Record<string, number> = {};
  for (const encoder of ['svt', 'aom', 'rav1e']) {
    const base = path.join(dir.path, encoder);
    const submitted = await cli([
      ...['submit', '--coordinator', address, '--input', input, '--encoder', encoder],
      ...['--working-dir', `${base}-work`, '--output-dir', `${base}-out`],
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const status = await cli(['status', submitted.stdout.trim(), '--json', '--coordinator', address]);
    const job = JSON.parse(status.stdout) as { details: { settings: { preset?: number } } };
    presets[encoder] = job.details.settings.preset ?? 0;
  }
  const expected = `default: svt ${presets.svt}, aom ${presets.aom}, rav1e ${presets.rav1e}`;
  for (const command of ['submit', 'encode']) {
    const text = await help(command);
    const line = /--preset <n> (.*?) --encoder /.exec(text)?.[1] ?? '';
    assert.ok(line.includes(expected), `${command}: want "${expected}" in ${line}`);
  }
});
