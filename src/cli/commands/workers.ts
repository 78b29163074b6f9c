// `avspl1t workers`: the workers the coordinator has seen, what they hold now and how much they did.
import { toJsonString } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { z } from 'zod';
import { ListWorkersResponseSchema } from '../../gen/avspl1t/v1/coordinator_pb.js';
import { withClient } from '../client.js';
import { formatWorkers } from '../format-workers.js';
import { coordinatorFlag, parseWith } from '../options.js';
import { withCoordinator } from './jobs.js';

/** Adds `workers`. */
export function registerWorkers(program: Command): void {
  withCoordinator(
    program
      .command('workers')
      .description('list the workers: id, host, slots, tasks done, last seen, tasks held now')
      .option('--json', 'print the ListWorkersResponse message as JSON'),
  ).action(async (raw: { coordinator: string; json?: boolean }) => {
    const o = parseWith(z.object({ coordinator: coordinatorFlag }), raw);
    const res = await withClient(o.coordinator, (c) => c.listWorkers({}));
    process.stdout.write(
      raw.json
        ? `${toJsonString(ListWorkersResponseSchema, res)}\n`
        : `${formatWorkers(res.workers, res.nowMs, process.stdout.isTTY ? process.stdout.columns : undefined)}\n`,
    );
  });
}
