// Job ids as people type them: the full id, or (as git takes commit ids) any
// prefix that names one job among the newest ones.
import { invalidInput, notFound } from '../errors.js';
import type { CoordinatorClient } from '../rpc/client.js';

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How many of the newest jobs a prefix is matched against. */
const PREFIX_SCOPE = 1000;

/** The full id of the job `idOrPrefix` names; NotFound or InvalidInput (ambiguous) otherwise. */
export async function resolveJobId(client: CoordinatorClient, idOrPrefix: string): Promise<string> {
  if (FULL_ID.test(idOrPrefix) || idOrPrefix === '') return idOrPrefix;
  const { jobs } = await client.listJobs({ limit: PREFIX_SCOPE });
  const ids = jobs.map((j) => j.id).filter((id) => id.startsWith(idOrPrefix.toLowerCase()));
  if (ids.length === 1) return ids[0]!;
  if (ids.length === 0) throw notFound(`job ${idOrPrefix} not found`);
  throw invalidInput(
    `job id ${idOrPrefix} is ambiguous: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}`,
  );
}
