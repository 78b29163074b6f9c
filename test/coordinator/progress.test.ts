// percent_complete: finished work plus running progress, encodes dominate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentComplete } from '../../src/coordinator/index.js';

const job = (state: string, segments_total: number, has_audio = 0) => ({ state, segments_total, has_audio });
const t = (kind: string, state: string, progress = 0, idx = 0) => ({ kind, idx, state, progress });

test('before the split finishes only the split counts', () => {
  assert.equal(percentComplete(job('queued', 0), [t('split', 'queued')]), 0);
  assert.equal(percentComplete(job('running', 0), [t('split', 'running', 0.5)]), 2.5);
});

test('the encodes are most of the work; audio and manifest are small shares', () => {
  const encodes = Array.from({ length: 10 }, (_, i) => t('encode', 'succeeded', 0, i));
  const afterEncodes = percentComplete(job('running', 10, 1), [
    t('split', 'succeeded'),
    ...encodes,
    t('audio', 'queued'),
  ]);
  assert.equal(afterEncodes, 90);
  const withAudio = percentComplete(job('running', 10, 1), [
    t('split', 'succeeded'),
    ...encodes,
    t('audio', 'succeeded'),
  ]);
  assert.equal(withAudio, 95);
});

test('100 only once the job has succeeded', () => {
  const all = [t('split', 'succeeded'), t('encode', 'succeeded'), t('manifest', 'running', 1)];
  assert.equal(percentComplete(job('running', 1), all), 99.9);
  assert.equal(percentComplete(job('succeeded', 1), all), 100);
});

test('bad progress values are clamped', () => {
  assert.equal(percentComplete(job('running', 0), [t('split', 'running', Number.NaN)]), 0);
  assert.equal(percentComplete(job('running', 0), [t('split', 'running', 7)]), 5);
});

test('an encode task covering several segments weighs as many segments', () => {
  // 10 segments in tasks of 4 (0-3), 4 (4-7), 1 (8), 1 (9); audio still queued.
  const tasks = (states: string[]) => [
    t('split', 'succeeded'),
    ...[0, 4, 8, 9].map((idx, i) => t('encode', states[i]!, states[i] === 'running' ? 0.5 : 0, idx)),
    t('audio', 'queued'),
  ];
  // split 5 + encodes 85 × 4/10
  assert.equal(
    percentComplete(job('running', 10, 1), tasks(['succeeded', 'queued', 'queued', 'queued'])),
    39,
  );
  // split 5 + encodes 85 × (4 + 4 × 0.5 + 1)/10
  assert.equal(
    percentComplete(job('running', 10, 1), tasks(['succeeded', 'running', 'succeeded', 'queued'])),
    64.5,
  );
});
