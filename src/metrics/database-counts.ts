// Reads for the metrics gauges and the readiness check: rows per state, and the
// schema migrations applied. Plain SQL that SQLite and PostgreSQL both run.
import { type QueryExecutorProvider, sql } from 'kysely';

/** Rows per `state` of the jobs and tasks tables. */
export interface StateCounts {
  jobs: Map<string, number>;
  tasks: Map<string, number>;
}

/** Counts jobs and tasks by state. */
export async function stateCounts(db: QueryExecutorProvider): Promise<StateCounts> {
  const count = async (table: 'jobs' | 'tasks') => {
    const { rows } = await sql<{ state: string; n: number | string }>`
      select state, count(*) as n from ${sql.table(table)} group by state`.execute(db);
    // PostgreSQL returns count(*) as a bigint string.
    return new Map(rows.map((r) => [r.state, Number(r.n)]));
  };
  return { jobs: await count('jobs'), tasks: await count('tasks') };
}

/** Names of the migrations the database has applied (Kysely's bookkeeping table). */
export async function appliedMigrations(db: QueryExecutorProvider): Promise<Set<string>> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  return new Set(rows.map((r) => r.name));
}
