// COUNT_SUCCESS (apply-effects.ts) writes what CHANGE_TASK, END_RUN and CHANGE_JOB
// write for a success that only counts, in a statement of its own: the same
// success applied to two identical jobs, one through it, one through the locked
// finish's statements, must leave the same rows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { decide } from '../../src/coordinator/decide.js';
import { countSuccess, effectStatements } from '../../src/db/postgres/apply-effects.js';
import { openPostgresStore } from '../../src/db/postgres/index.js';
import type { Statement } from '../../src/db/postgres/statement.js';
import { lockTaskWithJob, taskJobRows, taskWithJob } from '../../src/db/postgres/tasks-sql.js';
import type { ClaimedRow } from '../../src/db/schema.js';
import { sampleJob } from '../fixtures/messages.js';
import { usePostgres } from '../helpers/postgres.js';
import { claimedJob, success, withDatabase } from './finish-fixtures.js';

const server = usePostgres();

const run = (admin: pg.Client, s: Statement) => admin.query(s);

/** Applies the success of `row` as countedFinish does: decide on an unlocked read, then COUNT_SUCCESS. */
async function throughCount(admin: pg.Client, row: ClaimedRow, f: ReturnType<typeof success>): Promise<void> {
  const { job, task } = taskJobRows((await run(admin, taskWithJob(row.id))).rows[0]);
  const effects = decide(job, task, f.outcome, f.now, f.policy);
  assert.equal(effects.task.state, 'succeeded');
  const counted = await run(
    admin,
    countSuccess({
      task: { ...task, lease: f.lease },
      workerId: f.workerId,
      result: effects.task.state === 'succeeded' ? effects.task.result : new Uint8Array(),
      now: f.now,
      segments: (effects.job?.segmentsDone ?? job.segments_done) - job.segments_done,
      audio: (effects.job?.audioDone ?? job.audio_done) - job.audio_done,
    }),
  );
  assert.equal(counted.rows.length, 1, 'COUNT_SUCCESS applied');
}

/** Applies the success of `row` as lockedFinish does: decide on the locked rows, then effectStatements. */
async function throughLocked(
  admin: pg.Client,
  row: ClaimedRow,
  f: ReturnType<typeof success>,
): Promise<void> {
  await admin.query('begin');
  const { job, task } = taskJobRows((await run(admin, lockTaskWithJob(row.id))).rows[0]);
  const effects = decide(job, task, f.outcome, f.now, f.policy);
  assert.equal(effects.create.length, 0);
  for (const s of effectStatements({ ...task, lease: f.lease }, effects, f.now)) await run(admin, s);
  await admin.query('commit');
}

/** A job's rows (the job, its tasks in claim order, their runs), without what differs between two identical jobs by construction. */
async function jobRows(admin: pg.Client, jobId: string) {
  const strip = (row: Record<string, unknown>, keys: string[]) =>
    Object.fromEntries(Object.entries(row).filter(([k]) => !keys.includes(k)));
  const job = await admin.query('select * from jobs where id = $1', [jobId]);
  const tasks = await admin.query('select * from tasks where job_id = $1 order by ord', [jobId]);
  const runs = await admin.query(
    'select r.* from task_runs r join tasks t on t.id = r.task_id where r.job_id = $1 order by t.ord, r.attempt',
    [jobId],
  );
  // Ids and lease tokens are made fresh for each job, task and claim.
  return {
    job: strip(job.rows[0], ['id']),
    tasks: tasks.rows.map((t) => strip(t, ['id', 'job_id', 'lease'])),
    runs: runs.rows.map((r) => strip(r, ['lease', 'task_id', 'job_id'])),
  };
}

describe('COUNT_SUCCESS and the locked finish', { timeout: 60_000 }, () => {
  test('a success applied through COUNT_SUCCESS leaves the rows the locked finish leaves (an encode, then the audio)', async () => {
    await withDatabase(server(), async (url, admin) => {
      const store = await openPostgresStore(url);
      try {
        const shape = { pieces: 3, hasAudio: true, job: sampleJob() };
        const a = await claimedJob(store, shape);
        const b = await claimedJob(store, shape);
        assert.deepEqual(await jobRows(admin, a.jobId), await jobRows(admin, b.jobId), 'identical before');
        for (const kind of ['encode', 'audio']) {
          const i = a.tasks.findIndex((t) => t.kind === kind);
          assert.equal(b.tasks[i]!.kind, kind);
          await throughCount(admin, a.tasks[i]!, success(a.tasks[i]!, shape));
          await throughLocked(admin, b.tasks[i]!, success(b.tasks[i]!, shape));
          const [counted, locked] = [await jobRows(admin, a.jobId), await jobRows(admin, b.jobId)];
          assert.deepEqual(counted, locked, `after the ${kind} success`);
        }
      } finally {
        await store.close();
      }
    });
  });
});
