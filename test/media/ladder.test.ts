// The default ladder through the real path (`avspl1t encode`: embedded
// coordinator, local workers): every rung passes the media checks of
// test/helpers/ladder-checks.ts on the project's source kinds, 8-bit and 10-bit.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { checkLadderOutput, encodeLadder } from '../helpers/ladder-checks.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'avspl1t-ladder-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the default ladder passes the media checks on every rung', { concurrency: 1 }, () => {
  for (const kind of ['ntscLongGop', 'vfr', 'tenBit'] as const) {
    it(`${kind}: AV1 and H.264 rungs, aligned key frames, measured bandwidths, I-frame playlists`, async () => {
      const input = await makeClip(dir, CLIPS[kind]);
      const out = path.join(dir, `${kind}-out`);
      const { rungs } = await encodeLadder(input, out);
      for (const x of rungs)
        console.log(
          `${kind} ${x.uri}: ${x.codecs} BANDWIDTH ${x.bandwidth} (measured ${Math.round(x.measuredPeak)}), AVERAGE-BANDWIDTH ${x.averageBandwidth} (measured ${Math.round(x.measuredAverage)})`,
        );
    });
  }
});

describe('a ladder of every encoder passes the same checks', { concurrency: 1 }, () => {
  it('aom, rav1e and x264 rungs: aligned key frames, measured bandwidths, I-frame playlists', async () => {
    const input = await makeClip(dir, CLIPS.ntscLongGop);
    const out = path.join(dir, 'encoders-out');
    const rungs = ['aom:180:400:40:8', 'rav1e:256x144:250:40:10', 'h264:160x90:150:30'];
    const r = await cli(
      [
        'encode',
        input,
        out,
        '--seconds-per-segment',
        '1',
        '--jobs',
        '2',
        ...rungs.flatMap((x) => ['--rendition', x]),
      ],
      300_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const checked = await checkLadderOutput(out, input);
    assert.deepEqual(
      checked.map((x) => x.codecs.split('.')[0]).sort(),
      ['av01', 'av01', 'avc1'],
      JSON.stringify(checked),
    );
  });
});
