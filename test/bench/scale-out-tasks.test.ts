// The scale-out simulation's accounting of ladder-shaped jobs (bench/scale-out.ts
// simulatedJob): one entry per encode task the coordinator makes, a ladder's task
// lasting the sum of its rungs, checked by hand and against the real coordinator.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type JobProfile, longestFirstSpan, runScaleOut, simulatedJob } from '../../bench/scale-out.js';
import { Fleet, spawnCoordinator, submit, waitDone } from '../../bench/sim.js';
import { defaultLadder } from '../../src/media/ladder.js';
import { normalizeSettings } from '../../src/media/settings.js';
import { tmpDir } from '../helpers/tmp.js';

const profile = (segments: number): JobProfile => ({
  segments,
  splitSeconds: 4,
  encodeSeconds: 2,
  audioSeconds: 1,
  manifestSeconds: 1,
  how: 'by hand',
});
// Two rungs: 2 s and 1.5 s of one segment's encode.
const shape = {
  sourceSize: { width: 1920, height: 1080 },
  rungSeconds: new Map([
    ['a', 2],
    ['b', 1.5],
  ]),
};

describe('simulatedJob', () => {
  it("a ladder's encode task covers every rung of its segment and lasts their sum", () => {
    assert.deepEqual(simulatedJob(profile(3), shape).encodeTasks, [3.5, 3.5, 3.5]);
  });

  it('the whole-task schedule keeps the rungs of a segment on one worker', () => {
    const job = simulatedJob(profile(3), shape);
    // By hand, 2 workers: 3.5 | 3.5, then 3.5 → 7 | 3.5, audio 1 → 7 | 4.5.
    assert.equal(longestFirstSpan([...job.encodeTasks, 1], 2), 7);
    assert.equal(job.serialSeconds, 5);
  });

  it('a single-rendition job has one encode task per segment', () => {
    assert.deepEqual(simulatedJob(profile(2)).encodeTasks, [2, 2]);
  });

  it('counts the tasks the real coordinator hands out for a ladder job', async () => {
    const dir = await tmpDir('avspl1t-scale-tasks-');
    const segments = 5;
    const coord = await spawnCoordinator(path.join(dir.path, 'c.sqlite'));
    const fleet = new Fleet(coord.address, 3, 3, {
      pieces: segments,
      hasAudio: true,
      sourceSize: shape.sourceSize,
    });
    const kinds: string[] = [];
    fleet.onTask = (t) => kinds.push(t.kind.case ?? '?');
    try {
      fleet.start();
      await waitDone(fleet.client, await submit(fleet.client, { ladder: 'default' }));
      const encodes = kinds.filter((k) => k === 'encode').length;
      assert.equal(kinds.length, simulatedJob(profile(segments), shape).taskCount);
      assert.equal(encodes, simulatedJob(profile(segments), shape).encodeTasks.length);
    } finally {
      await fleet.close();
      await coord.stop();
      await dir.cleanup();
    }
  });

  it('a run ends when the coordinator finishes the job and schedules the tasks it handed out', async () => {
    // The real rung names of a 1080p default ladder, each 0.5 s of one segment's encode.
    const source = { width: 1920, height: 1080, fps: 30 };
    const names = defaultLadder(source, normalizeSettings({ encoder: 'svt', crf: 30, preset: 8 })).map(
      (r) => r.name,
    );
    const rungSeconds = new Map(names.map((n) => [n, 0.5]));
    const [row] = await runScaleOut(profile(4), [2], 5, 1000, () => {}, { sourceSize: source, rungSeconds });
    const task = 0.5 * names.length;
    // By hand, 2 workers: the 4 tasks in 2 rounds (2 × task), audio 1 after them; + split 4 + manifest 1.
    assert.equal(row!.scheduleSeconds, 5 + 2 * task + 1);
    assert.ok(row!.seconds >= row!.scheduleSeconds!, `${row!.seconds} simulated s < the schedule`);
  });
});
