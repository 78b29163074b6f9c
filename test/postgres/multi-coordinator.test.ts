// The scale-out deployment: two coordinator OS processes on one PostgreSQL
// database with 20 fake workers split between them. Every task runs exactly
// once and no lease is ever held by two workers (checked in task_runs); a
// PostgreSQL restart mid-run costs retries, not jobs.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { stopAll } from '../cli/processes.js';
import { usePostgres } from '../helpers/postgres.js';
import { OVERLAPPING_LEASES, runSummary, sql, startFleet } from './fleet.js';

const PIECES = 40;

after(() => stopAll()); // ahead of usePostgres: the coordinators stop before their database
const server = usePostgres();

describe('two coordinators on one PostgreSQL', { concurrency: 1, timeout: 300_000 }, () => {
  it('20 fake workers on two coordinators: every task runs exactly once and every job completes', async (t) => {
    const url = await server().createDatabase('fleet');
    const fleet = await startFleet({ url, coordinators: 2, workers: 20, pieces: PIECES });
    try {
      const started = Date.now();
      await fleet.submit(6);
      await fleet.waitForJobs(180_000);
      const elapsed = Date.now() - started;
      await fleet.stop();

      const s = await runSummary(url);
      const expected = 6 * (PIECES + 2);
      assert.equal(s.tasks, expected, 'split + one encode per piece + manifest per job');
      assert.equal(s.tasks_succeeded, expected);
      assert.equal(s.runs, expected, 'one claim per task');
      assert.equal(s.runs_succeeded, expected);
      assert.equal(s.tasks_run_twice, 0);
      assert.equal(s.leases, s.runs, 'a fresh lease per claim');
      assert.deepEqual(await sql(url, OVERLAPPING_LEASES), [], 'no lease held by two workers at once');

      // The workers' side agrees: each task handed out once, each finish accepted.
      const claims = fleet.stats.claims;
      assert.equal(claims.length, expected);
      assert.equal(new Set(claims.map((c) => c.taskId)).size, expected);
      assert.ok(claims.every((c) => c.accepted === true));
      assert.deepEqual(fleet.stats.errors, []);
      // Both coordinators handed out work (workers fake-c0-* talk to one, fake-c1-* to the other).
      const byCoordinator = await sql<{ c: string; n: number }>(
        url,
        "SELECT substring(worker_id from 'fake-(c[0-9])') AS c, count(*)::int AS n FROM task_runs GROUP BY 1 ORDER BY 1",
      );
      assert.deepEqual(
        byCoordinator.map((r) => r.c),
        ['c0', 'c1'],
      );
      const workersUsed = new Set(claims.map((c) => c.workerId)).size;
      t.diagnostic(
        `${expected} tasks in ${elapsed} ms (${((expected * 1000) / elapsed).toFixed(0)} tasks/s), ` +
          `${workersUsed} workers claimed, per coordinator ${JSON.stringify(byCoordinator)}`,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${fleet.logTails()}`, { cause: err });
    } finally {
      await fleet.stop().catch(() => {});
    }
  });

  it('PostgreSQL restarted mid-run: both coordinators stay up, recover, and every job completes', async (t) => {
    const url = await server().createDatabase('restart');
    const fleet = await startFleet({
      url,
      coordinators: 2,
      workers: 20,
      pieces: PIECES,
      // A claim whose answer was lost in the outage goes back to the queue after 5 s, not 15.
      coordinatorArgs: ['--lease-seconds', '5'],
    });
    try {
      await fleet.submit(6);
      // Restart once the run is well under way.
      const deadline = Date.now() + 120_000;
      while ((await runSummary(url)).tasks_succeeded < 30) {
        assert.ok(Date.now() < deadline, 'no progress before the restart');
        await new Promise((r) => setTimeout(r, 50));
      }
      const restartAt = Date.now();
      await server().restart();
      const restartMs = Date.now() - restartAt;
      // The coordinators keep serving: new jobs after the restart run too.
      await fleet.submit(2);
      await fleet.waitForJobs(180_000);
      const recoveredMs = Date.now() - restartAt;
      await fleet.stop();

      const s = await runSummary(url);
      const expected = 8 * (PIECES + 2);
      assert.equal(s.tasks, expected);
      assert.equal(s.tasks_succeeded, expected);
      assert.equal(s.tasks_succeeded_twice, 0, 'no task succeeded twice');
      assert.equal(s.leases, s.runs);
      assert.deepEqual(await sql(url, OVERLAPPING_LEASES), [], 'no lease held by two workers at once');

      // Coordinators survived; what workers saw in the outage was UNAVAILABLE, never INTERNAL.
      for (const c of fleet.coordinators) assert.equal(c.program.child.exitCode, 0);
      const errors = fleet.stats.errors;
      assert.ok(
        errors.every((e) => /unavailable/i.test(e)),
        `errors other than UNAVAILABLE: ${errors.filter((e) => !/unavailable/i.test(e)).slice(0, 3)}`,
      );
      // Each coordinator reported the outage (once per outage, not per failed call) and its end.
      const outages = fleet.coordinators.map((c) => {
        const lines = c.program.output().stderr.split('\n');
        return {
          down: lines.filter((l) => l.includes('"event":"database_unavailable"')).length,
          up: lines.filter((l) => l.includes('"event":"database_available"')).length,
        };
      });
      for (const o of outages) {
        assert.ok(o.down >= 1 && o.down <= 3, `outage logged ${o.down} times`);
        assert.equal(o.up, o.down, 'each outage has its end logged');
      }
      t.diagnostic(
        `restart took ${restartMs} ms; all ${expected} tasks done ${recoveredMs} ms after it; ` +
          `${s.runs - expected} extra runs; ${errors.length} UNAVAILABLE answers; outage log lines ${JSON.stringify(outages)}`,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${fleet.logTails()}`, { cause: err });
    } finally {
      await fleet.stop().catch(() => {});
    }
  });
});
