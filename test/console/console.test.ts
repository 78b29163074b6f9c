// The web console in Chromium against a real coordinator (--console, tokens on)
// and worker processes: the page loads no data without the client token; a job
// submitted with the CLI reaches 100 % on its page without a reload or polling
// (one WatchJob stream); its timeline shows every run the database recorded; its
// output plays to the end in the page's hls.js player; a second job is cancelled
// and resubmitted from the jobs page. The job page's screenshot is written to
// docs/console-job.png when AVSPL1T_UPDATE_SCREENSHOT=1.
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { query, startCoordinator, submit } from '../cli/operator.js';
import { cli, type Program, startProgram, stopAll } from '../cli/processes.js';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { run } from '../helpers/exec.js';
import { launchChromium } from '../helpers/player.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';

const CLIENT_TOKEN = 'client-secret-for-the-console';
const WORKER_TOKEN = 'worker-secret-for-the-console';
const SCREENSHOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../docs/console-job.png',
);

let dir: TmpDir;
let clip: string;
let db: string;
let address: string;
let workers: Program[];
let browser: Browser;
before(async () => {
  dir = await tmpDir('avspl1t-console-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
  db = path.join(dir.path, 'console.sqlite');
  ({ address } = await startCoordinator(db, [
    '--console',
    '--token',
    CLIENT_TOKEN,
    '--worker-token',
    WORKER_TOKEN,
  ]));
  workers = [startWorkerWithToken('worker-a'), startWorkerWithToken('worker-b')];
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stopAll();
  await dir.cleanup();
});

function startWorkerWithToken(id: string): Program {
  return startProgram(
    [
      'worker',
      '--coordinator',
      address,
      '--id',
      id,
      '--tmp-dir',
      path.join(dir.path, id),
      '--log-level',
      'warn',
    ],
    { env: { ...process.env, AVSPL1T_WORKER_TOKEN: WORKER_TOKEN } },
  );
}

/**
 * A page of the console with the token already in its tab (as after the token
 * form), and the RPC method names it calls, in order, from its first request.
 */
async function consolePage(hash: string): Promise<{ page: Page; calls: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const calls: string[] = [];
  page.on('request', (req) => {
    const m = /\/avspl1t\.v1\.CoordinatorService\/(\w+)$/.exec(new URL(req.url()).pathname);
    if (m) calls.push(m[1]!);
  });
  await page.addInitScript((token) => sessionStorage.setItem('avspl1t-token', token), CLIENT_TOKEN);
  await page.goto(`http://${address}/console/${hash}`);
  return { page, calls };
}

describe('web console', { concurrency: 1 }, () => {
  it('without a valid token the page shows the token form and loads no jobs', async () => {
    const page = await browser.newPage();
    try {
      const answers: number[] = [];
      page.on('response', (res) => {
        if (res.url().includes('/ListJobs')) answers.push(res.status());
      });
      await page.goto(`http://${address}/console/`);
      await page.getByText('Client token required').waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('table.jobs').count(), 0);
      assert.deepEqual(answers, [401], 'ListJobs refused');
      await page.locator('input[name=token]').fill('not-the-token');
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByText('The coordinator refused this token.').waitFor({ timeout: 15_000 });
      assert.equal(await page.locator('table.jobs').count(), 0);
      await page.locator('input[name=token]').fill(CLIENT_TOKEN);
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByRole('heading', { name: 'Jobs' }).waitFor({ timeout: 15_000 });
      assert.deepEqual(answers, [401, 401, 200]);
      assert.doesNotMatch(await page.content(), new RegExp(WORKER_TOKEN));
    } finally {
      await page.close();
    }
  });

  it('a job submitted with the CLI reaches 100 % on its page without reload or polling, shows its runs and plays to the end', async () => {
    const { jobId } = await submit(address, clip, path.join(dir.path, 'first'), ['--token', CLIENT_TOKEN]);
    const { page, calls } = await consolePage(`#/jobs/${jobId}`);
    try {
      await page.evaluate(() => {
        (window as unknown as { marker: number }).marker = 1;
      });
      const progress = page.locator('#job-progress [role=progressbar]');
      await page.locator('#job-state', { hasText: 'succeeded' }).waitFor({ timeout: 180_000 });
      assert.equal(await progress.getAttribute('aria-valuenow'), '100');
      assert.equal(
        await page.evaluate(() => (window as unknown as { marker?: number }).marker),
        1,
        'no reload',
      );
      assert.equal(calls.filter((c) => c === 'WatchJob').length, 1, `one stream: ${calls.join(' ')}`);
      assert.equal(calls.filter((c) => c === 'GetJob' || c === 'ListJobs').length, 0, 'no polling');

      // The timeline has a bar per run the database recorded, each succeeded.
      const runs = query<{ n: number }>(db, 'select count(*) as n from task_runs where job_id = ?', jobId)[0]!
        .n;
      await page.waitForFunction(
        (n) => document.querySelectorAll('svg.timeline g.run[data-outcome=succeeded]').length === n,
        runs,
        { timeout: 15_000 },
      );
      assert.equal(await page.locator('svg.timeline g.run').count(), runs);

      // The output plays to the end in the page's player.
      const expected = Number(
        (await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', clip]))
          .stdout,
      );
      await page.evaluate(() => void document.querySelector<HTMLVideoElement>('#player')!.play());
      await page.waitForFunction(
        () => document.querySelector<HTMLVideoElement>('#player')?.ended,
        undefined,
        {
          timeout: 60_000,
        },
      );
      const played = await page.evaluate(() => {
        const v = document.querySelector<HTMLVideoElement>('#player')!;
        return { currentTime: v.currentTime, duration: v.duration, error: v.error?.message ?? null };
      });
      assert.equal(played.error, null);
      assert.ok(Math.abs(played.duration - expected) < 0.1, `duration ${played.duration} vs ${expected}`);
      assert.ok(Math.abs(played.currentTime - expected) < 0.1, `ended at ${played.currentTime}`);
      assert.equal(await page.locator('.player .error').count(), 0);

      if (process.env.AVSPL1T_UPDATE_SCREENSHOT === '1') {
        const shot = path.join(dir.path, 'console-job.png');
        await page.screenshot({ path: shot, fullPage: true });
        await copyFile(shot, SCREENSHOT);
      }
    } finally {
      await page.close();
    }
  });

  it('a queued job is cancelled from the jobs page, then resubmitted', async () => {
    // No worker: the job stays queued until the button is clicked.
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    const { jobId } = await submit(address, clip, path.join(dir.path, 'second'), ['--token', CLIENT_TOKEN]);
    const { page } = await consolePage('#/');
    try {
      const row = page.locator(`tr[data-job="${jobId}"]`);
      await row.locator('td.state', { hasText: 'queued' }).waitFor({ timeout: 15_000 });
      await row.getByRole('button', { name: 'Cancel' }).click();
      await page.locator(`tr[data-job="${jobId}"][data-state=cancelled]`).waitFor({ timeout: 15_000 });
      assert.deepEqual(query(db, 'select state from jobs where id = ?', jobId), [{ state: 'cancelled' }]);
      const status = await cli(['status', jobId, '--coordinator', address, '--token', CLIENT_TOKEN]);
      assert.match(status.stdout, /cancelled/);

      await page.locator(`tr[data-job="${jobId}"]`).getByRole('button', { name: 'Resubmit' }).click();
      await page.waitForFunction(() => document.querySelectorAll('tr[data-job]').length === 3, undefined, {
        timeout: 15_000,
      });
      const jobs = query<{ id: string; state: string }>(db, 'select id, state from jobs order by created_at');
      assert.equal(jobs.length, 3);
      assert.equal(jobs[2]!.state, 'queued');
      await page.locator(`tr[data-job="${jobs[2]!.id}"][data-state=queued]`).waitFor({ timeout: 15_000 });
    } finally {
      await page.close();
    }
  });
});
