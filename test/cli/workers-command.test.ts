// `avspl1t workers` against a real coordinator and two worker processes: hosts
// and slots as the workers were started, current tasks the database says they
// hold, tasks done equal to their succeeded runs in the database.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CLIPS, makeClip } from '../helpers/clips.js';
import { type TmpDir, tmpDir } from '../helpers/tmp.js';
import { BIN, cli, gatedFfmpeg, startProgram, stopAll } from './processes.js';

let dir: TmpDir;
let clip: string;
before(async () => {
  dir = await tmpDir('avspl1t-workers-');
  clip = await makeClip(dir.path, CLIPS.ntscLongGop);
});
after(async () => {
  await stopAll();
  await dir.cleanup();
});

/** Reads the coordinator's database (WAL lets us read while it runs). */
function query<T>(db: string, sql: string, ...params: unknown[]): T[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}

interface WorkersJson {
  workers?: {
    id: string;
    host?: string;
    slots?: number;
    current?: { taskId: string; jobId: string; kind: string; index?: number }[];
    tasksDone?: string;
    lastSeenMs?: string;
  }[];
  nowMs: string;
}

async function workersJson(address: string): Promise<WorkersJson> {
  const r = await cli(['workers', '--json', '--coordinator', address]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as WorkersJson;
}

function startWorker(address: string, id: string, slots: number, ffmpeg: string) {
  return startProgram(
    [
      'worker',
      '--coordinator',
      address,
      '--id',
      id,
      '--concurrency',
      String(slots),
      '--threads',
      '1',
      '--tmp-dir',
      path.join(dir.path, `tmp-${id}`),
      '--log-level',
      'warn',
    ],
    { env: { ...process.env, AVSPL1T_FFMPEG: ffmpeg } },
  );
}

describe('avspl1t workers', { concurrency: 1 }, () => {
  it('lists both workers with their host and slots, the tasks the database says they hold, and their succeeded runs', async () => {
    const db = path.join(dir.path, 'state.sqlite');
    const coordinator = startProgram(['coordinator', '--listen', '127.0.0.1:0', '--db', db]);
    const address = await coordinator.firstLine();
    const go = path.join(dir.path, 'go');
    // The workers hold their first tasks until the test has seen them (a short encode
    // would otherwise race the start-up of each CLI call that looks).
    const ffmpeg = await gatedFfmpeg(path.join(dir.path, 'ffmpeg-after-go'), go);
    startWorker(address, 'w-one', 1, ffmpeg);
    startWorker(address, 'w-two', 2, ffmpeg);
    const submitted = await cli([
      'submit',
      '--coordinator',
      address,
      '--input',
      clip,
      '--working-dir',
      path.join(dir.path, 'work'),
      '--output-dir',
      path.join(dir.path, 'out'),
      '--seconds-per-segment',
      '0.5',
      '--preset',
      '10',
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const jobId = submitted.stdout.trim();

    // While the job runs: every current task shown is one the database has the
    // worker running at the time of the answer (a run started before it, not ended before it).
    const heldBy = new Set<string>();
    const deadline = Date.now() + 120_000;
    while (heldBy.size < 2 && Date.now() < deadline) {
      const res = await workersJson(address);
      const now = Number(res.nowMs);
      for (const w of res.workers ?? []) {
        for (const t of w.current ?? []) {
          assert.equal(t.jobId, jobId);
          const runs = query<{ n: number }>(
            db,
            'SELECT count(*) AS n FROM task_runs r JOIN tasks t ON t.id = r.task_id ' +
              'WHERE r.task_id = ? AND r.worker_id = ? AND t.kind = ? AND t.idx = ? AND r.started_at <= ? AND (r.ended_at IS NULL OR r.ended_at >= ?)',
            t.taskId,
            w.id,
            t.kind,
            t.index ?? 0,
            now,
            now,
          );
          assert.equal(runs[0]!.n, 1, `${w.id} holds ${JSON.stringify(t)} at ${now}`);
          heldBy.add(w.id);
        }
      }
      const state = query<{ state: string }>(db, 'SELECT state FROM jobs WHERE id = ?', jobId)[0]!.state;
      if (state !== 'queued' && state !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await writeFile(go, '');
    assert.deepEqual([...heldBy].sort(), ['w-one', 'w-two'], 'each worker was seen holding a task');

    const waited = await cli(['wait', jobId, '--coordinator', address]);
    assert.equal(waited.code, 0, waited.stderr);

    const res = await workersJson(address);
    const byId = new Map((res.workers ?? []).map((w) => [w.id, w]));
    assert.deepEqual([...byId.keys()].sort(), ['w-one', 'w-two']);
    for (const [id, slots] of [
      ['w-one', 1],
      ['w-two', 2],
    ] as const) {
      const w = byId.get(id)!;
      assert.equal(w.host, os.hostname());
      assert.equal(w.slots, slots);
      assert.deepEqual(w.current ?? [], [], `${id} holds nothing after the job`);
      const done = query<{ n: number }>(
        db,
        "SELECT count(*) AS n FROM task_runs WHERE worker_id = ? AND outcome = 'succeeded'",
        id,
      )[0]!.n;
      assert.ok(done > 0);
      assert.equal(Number(w.tasksDone ?? 0), done, `${id} tasks done`);
      assert.ok(Number(res.nowMs) - Number(w.lastSeenMs) < 30_000, `${id} seen recently`);
    }

    // The table for people names both, with their slots and when they were last seen.
    const table = await cli(['workers', '--coordinator', address]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+HOST\s+SLOTS\s+DONE\s+SEEN\s+TASKS$/);
    assert.match(table.stdout, /^w-one\s+\S+\s+1\s+\d+\s+\d+s ago\s+-$/m);
    assert.match(table.stdout, /^w-two\s+\S+\s+2\s+\d+\s+\d+s ago\s+-$/m);
    assert.ok(
      lines.some((l) => l.length > 30),
      'not on a terminal, lines are not cut',
    );

    // On a 30-column terminal (a real pty from util-linux `script`) every line is cut to fit.
    const onPty = await new Promise<string>((resolve, reject) =>
      execFile(
        'script',
        [
          '-qec',
          `stty cols 30 rows 20; '${process.execPath}' '${BIN}' workers --coordinator ${address}`,
          '/dev/null',
        ],
        { timeout: 30_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    const ptyLines = onPty.split(/\r?\n/).filter((l) => l !== '');
    assert.match(ptyLines[0]!, /^ID\s+HOST/);
    assert.equal(ptyLines.length, 3, onPty);
    for (const l of ptyLines) assert.ok(l.length <= 30, `${l.length}: ${l}`);
    assert.ok(
      ptyLines.some((l) => l.endsWith('…')),
      onPty,
    );
  });
});
