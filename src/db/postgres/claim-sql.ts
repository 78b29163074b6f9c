// The claim: leases the next runnable task (oldest job first, then claim order)
// to a worker in one statement, recording the run (task_runs) and the worker
// (seen, one more claim), and a split's job as running. FOR UPDATE SKIP LOCKED: claims running at once never
// wait on each other or take the same task (graphile-worker's getJobs).
import { CLAIMED_COLUMNS, type ClaimedRow } from '../schema.js';
import { JobState, RunOutcome, TaskKind, TaskState } from '../states.js';
import { type Statement, statement } from './statement.js';

export type { ClaimedRow };

/** One claim: who asks, under which fresh lease token, for how long. */
export interface ClaimRequest {
  now: number;
  workerId: string;
  lease: string;
  leaseMs: number;
}

/** The claim's text; `condition` (SQL) must also hold for it to claim anything. */
const claimText = (condition = 'true') => `
with picked as (
  select id from tasks
  where state = '${TaskState.Queued}' and run_after <= $5 and ${condition}
  order by job_created_at, job_id, ord
  limit 1
  for update skip locked
), claimed as (
  update tasks set state = '${TaskState.Running}', attempts = attempts + 1, lease = $1, lease_owner = $2,
    lease_expires_at = $3, progress = 0, updated_at = $4
  from picked where tasks.id = picked.id
  returning ${CLAIMED_COLUMNS.map((c) => `tasks.${c}`).join(', ')}
), run as (
  insert into task_runs (lease, task_id, job_id, attempt, worker_id, started_at)
  select lease, id, job_id, attempts, lease_owner, updated_at from claimed
), seen as (
  insert into workers (id, first_seen_at, last_seen_at, claims)
  select lease_owner, updated_at, updated_at, 1 from claimed
  on conflict (id) do update set last_seen_at = excluded.last_seen_at, claims = workers.claims + 1
), started as (
  update jobs set state = '${JobState.Running}', updated_at = $4
  where id = (select job_id from claimed where kind = '${TaskKind.Split}') and state = '${JobState.Queued}'
)
select ${CLAIMED_COLUMNS.join(', ')} from claimed`;

const CLAIM = claimText();
const CLAIM_AFTER_SUCCESS = claimText(
  `exists (select 1 from task_runs where lease = $6 and outcome = '${RunOutcome.Succeeded}')`,
);

/** Claims a runnable task for `req.workerId`; returns no row when none is runnable. */
export function claimTask(req: ClaimRequest): Statement {
  return statement('claim', CLAIM, [req.lease, req.workerId, req.now + req.leaseMs, req.now, req.now]);
}

/**
 * `claimTask`, only if the run under `lease` succeeded: sent in one transaction
 * behind a finish that may not apply, it claims only when that finish did (a
 * succeeded run of a lease is that lease's worker's finish, nobody else's).
 */
export function claimAfterSuccess(req: ClaimRequest, lease: string): Statement {
  return statement('claim_after_success', CLAIM_AFTER_SUCCESS, [
    req.lease,
    req.workerId,
    req.now + req.leaseMs,
    req.now,
    req.now,
    lease,
  ]);
}

/** The task leased under `lease` to `workerId` and still running (a claim whose reply may have been lost). */
export function leasedTask(lease: string, workerId: string): Statement {
  return statement(
    'leased_task',
    `select ${CLAIMED_COLUMNS.join(', ')} from tasks ` +
      `where lease = $1 and lease_owner = $2 and state = '${TaskState.Running}'`,
    [lease, workerId],
  );
}
