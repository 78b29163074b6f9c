// How often the progress bar of `avspl1t encode` and `avspl1t wait` redraws on a terminal:
// the job changes about once a second, so redrawing ten times a second (cli-progress's
// default) is the command's own CPU spent on nothing while ffmpeg encodes.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { WaitView } from '../../src/cli/progress.js';
import { JobSchema, JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';

/** A fake terminal (a pty cannot be opened from node): says it is a TTY and records each write. */
class FakeTerminal extends Writable {
  readonly isTTY = true;
  readonly columns = 100;
  readonly rows = 40;
  readonly writes: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.writes.push(chunk.toString());
    done();
  }
}

const job = (done: number) =>
  create(JobSchema, {
    id: 'j',
    state: JobState.RUNNING,
    segmentsTotal: 6,
    segmentsDone: done,
    percentComplete: (done / 6) * 100,
  });

describe('progress bar on a terminal', () => {
  it('redraws at most twice a second while the job does not change, and still shows each change', async () => {
    const term = new FakeTerminal();
    const view = new WaitView(false, term);
    try {
      view.show(job(1));
      await sleep(700);
      assert.match(term.writes.join(''), /1\/6 segments/);
      const before = term.writes.length;
      await sleep(3000);
      const idle = term.writes.length - before;
      // cli-progress's default (10 a second) writes ~30 times here; twice a second, ~6.
      assert.ok(idle <= 8, `${idle} writes in 3 s while nothing changed`);
      view.show(job(4));
      await sleep(700);
      assert.match(term.writes.slice(before + idle).join(''), /4\/6 segments/);
    } finally {
      view.stop();
    }
  });
});
