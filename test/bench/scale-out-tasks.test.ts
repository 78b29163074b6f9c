// The scale-out simulation's accounting of ladder-shaped jobs (bench/scale-out.ts
// simulatedJob): one entry per encode task the coordinator makes (a task per rung
// and segment with parallelism unset; a task of every rung, lasting their sum,
// with it set), checked by hand and against the real coordinator.
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

// The real rung names of a 1080p default ladder, each 0.5 s of one segment's encode.
const source1080 = { width: 1920, height: 1080, fps: 30 };
const defaultShape = {
  sourceSize: { width: 1920, height: 1080 },
  rungSeconds: new Map(
    defaultLadder(source1080, normalizeSettings({ encoder: 'svt', crf: 30, preset: 8 })).map(
      (r) => [r.name, 0.5] as const,
    ),
  ),
};

describe('simulatedJob', () => {
  it('parallelism unset: a task per rung and segment, each lasting its rung', () => {
    assert.deepEqual(simulatedJob(profile(3), shape).encodeTasks, [2, 2, 2, 1.5, 1.5, 1.5]);
  });

  it("parallelism set: a ladder's encode task covers every rung of its segments and lasts their sum", () => {
    const tasks = simulatedJob(profile(6), shape, 2).encodeTasks;
    assert.equal(
      tasks.reduce((a, b) => a + b, 0),
      6 * 3.5,
    );
    for (const t of tasks) assert.equal(t % 3.5, 0, `${t}: whole segments of both rungs`);
  });

  it('the whole-task schedule places each task whole', () => {
    const job = simulatedJob(profile(3), shape);
    // By hand, 2 workers, longest first: 2 | 2, 2 → 4 | 2, 1.5 → 4 | 3.5, 1.5 → 4 | 5,
    // 1.5 → 5.5 | 5, audio 1 → 5.5 | 6.
    assert.equal(longestFirstSpan([...job.encodeTasks, 1], 2), 6);
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
      sourceSize: defaultShape.sourceSize,
    });
    const kinds: string[] = [];
    fleet.onTask = (t) => kinds.push(t.kind.case ?? '?');
    try {
      fleet.start();
      await waitDone(fleet.client, await submit(fleet.client, { ladder: 'default' }));
      const encodes = kinds.filter((k) => k === 'encode').length;
      assert.equal(kinds.length, simulatedJob(profile(segments), defaultShape).taskCount);
      assert.equal(encodes, simulatedJob(profile(segments), defaultShape).encodeTasks.length);
    } finally {
      await fleet.close();
      await coord.stop();
      await dir.cleanup();
    }
  });

  it('a run ends when the coordinator finishes the job and schedules the tasks it handed out', async () => {
    const [row] = await runScaleOut(profile(4), [2], 5, 1000, () => {}, defaultShape);
    // By hand, 2 workers: audio 1 and the 24 tasks of 0.5 s (4 segments × 6 rungs), 13 s of
    // work, longest first: 1 + 11 × 0.5 | 13 × 0.5 = 6.5 | 6.5; + split 4 + manifest 1.
    assert.equal(row!.scheduleSeconds, 5 + 6.5);
    assert.ok(row!.seconds >= row!.scheduleSeconds!, `${row!.seconds} simulated s < the schedule`);
  });
});
