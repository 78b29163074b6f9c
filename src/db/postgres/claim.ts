// A claim as its own transaction: one round trip (BEGIN, the claim statement and
// COMMIT go out together). Run again after its COMMIT reply was lost, it answers
// with the task the earlier try leased under the same token instead of leasing
// a second one (or none) and leaving the first to expire.
import type { ClaimedRow } from '../schema.js';
import { type ClaimRequest, claimTask, leasedTask } from './claim-sql.js';
import type { PgDatabase } from './pg-database.js';

/** Claims the next runnable task for `req.workerId` (see TaskStore.claim). */
export function claim(db: PgDatabase, req: ClaimRequest): Promise<ClaimedRow | undefined> {
  return db.transaction(async (tx, attempt) => {
    if (attempt.mayHaveCommitted) {
      const [earlier] = await tx.rows<ClaimedRow>(leasedTask(req.lease, req.workerId));
      if (earlier) {
        await tx.commit([]);
        return earlier;
      }
    }
    const [rows] = await tx.commit([claimTask(req)]);
    return rows?.[0] as ClaimedRow | undefined;
  });
}
