// The `avspl1t workers` table: relative times, control characters escaped, lines cut to the terminal's width.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ago, formatWorkers } from '../../src/cli/format-workers.js';
import { WorkerInfoSchema, WorkerTaskSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';

describe('workers table', () => {
  it('says how long ago in s, m, h and d', () => {
    assert.equal(ago(97_000n, 100_000n), '3s ago');
    assert.equal(ago(100_000n, 225_000n), '2m ago');
    assert.equal(ago(1n, 7_200_001n), '2h ago');
    assert.equal(ago(1n, 3n * 86_400_000n + 1n), '3d ago');
    assert.equal(ago(0n, 5n), 'never');
  });

  it('escapes control characters from workers and cuts each line to the width', () => {
    const w = create(WorkerInfoSchema, {
      id: 'evil\x1b]0;owned\x07-worker-with-a-very-long-name',
      host: 'host\nname',
      slots: 4,
      tasksDone: 12n,
      lastSeenMs: 7_000n,
      current: [
        create(WorkerTaskSchema, { taskId: 't1', jobId: '0123456789abcdef', kind: 'encode', index: 7 }),
        create(WorkerTaskSchema, { taskId: 't2', jobId: 'fedcba9876543210', kind: 'audio' }),
      ],
    });
    const wide = formatWorkers([w], 10_000n);
    assert.doesNotMatch(wide, /[\x00-\x09\x0b-\x1f]/);
    assert.match(wide, /01234567 encode 7, fedcba98 audio$/);
    assert.match(wide, /host\\nname/);
    assert.match(wide, /\b4\s+12\s+3s ago/);
    const narrow = formatWorkers([w], 10_000n, 60).split('\n');
    for (const line of narrow) assert.ok(line.length <= 60, `${line.length}: ${line}`);
    assert.ok(narrow[1]!.endsWith('…'));
  });
});
