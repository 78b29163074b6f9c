// `avspl1t jobs` in a 60-column terminal (a real tmux pane): no row wraps, and
// each job keeps its id (a prefix every command accepts), state and percent.
// tmux itself measures the width, wide (CJK) characters in names included.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { JobState } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { fileAt, folderAt } from '../../src/storage/index.js';
import { startTestCoordinator, type TestCoordinator } from '../coordinator/harness.js';
import { waitFor } from './operator.js';
import { BIN } from './processes.js';

let t: TestCoordinator;
const socket = () => path.join(t.dir.path, 'tmux.sock');
const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket(), ...args], { encoding: 'utf8' });

before(async () => {
  t = await startTestCoordinator();
  // No worker: the jobs stay queued (one cancelled), which is all `jobs` needs.
  for (const name of [
    'holiday-video-from-the-summer-of-2025.mp4',
    '夏休みの動画ファイル-とても長い名前.mp4',
    'a.mp4',
  ]) {
    const input = path.join(t.dir.path, name);
    await writeFile(input, '');
    const { jobId } = await t.client.submitJob({
      job: {
        input: fileAt(input),
        working: folderAt(path.join(t.dir.path, `${name}-work`)),
        output: folderAt(path.join(t.dir.path, `${name}-out`)),
        secondsPerSegment: 2,
      },
    });
    if (name === 'a.mp4') await t.client.cancelJob({ jobId });
  }
});
after(async () => {
  try {
    tmux('kill-server');
  } catch {
    // Not started, or already gone.
  }
  await t?.close();
});

it('jobs in a 60-column terminal: no line wraps, and every job shows its id prefix, state and percent', async () => {
  const command = `${process.execPath} ${BIN} jobs --coordinator ${t.address}; echo END; sleep 60`;
  tmux('new-session', '-d', '-x', '60', '-y', '20', command);
  // Screen rows as shown, and with the rows a long line wrapped onto joined again (-J).
  const rows = await waitFor('jobs printed', () => {
    const shown = tmux('capture-pane', '-p');
    return shown.includes('END') && shown;
  });
  const joined = tmux('capture-pane', '-p', '-J');
  const lines = (text: string) => text.split('\n').filter((l) => l.trim() && l !== 'END');
  assert.equal(lines(joined).length, lines(rows).length, `a line wrapped at 60 columns:\n${rows}`);
  assert.equal(lines(joined).length, 4, joined);
  const { jobs } = await t.client.listJobs({ limit: 20 });
  for (const job of jobs) {
    const row = lines(joined).find((l) => l.startsWith(job.id.slice(0, 8)));
    assert.ok(row, `a row for ${job.id}:\n${joined}`);
    assert.match(
      row,
      new RegExp(` ${JobState[job.state].toLowerCase()} +${job.percentComplete.toFixed(1)}%`),
      row,
    );
  }
});
