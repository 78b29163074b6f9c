// The soak's hosts: one network namespace per host, each joined to a bridge in a hub namespace
// by a veth pair. A link cut takes the host's hub-side veth down. Nothing here touches the
// machine's own interfaces or firewall: every device is created inside the run's namespaces.
import { execFile } from 'node:child_process';

/** One host: its namespace and address. */
export interface Host {
  name: string;
  ns: string;
  address: string;
  /** The veth end in the hub namespace (down = the host is cut off). */
  hubLink: string;
}

/** Runs `ip ...` and rejects with its stderr on failure. */
export function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Why the soak cannot run here (not root, no `ip netns`), or undefined when it can. */
export async function cannotRunReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the chaos soak needs root (network namespaces)';
  try {
    await ip(['netns', 'list']);
  } catch (error) {
    return `ip netns is unavailable: ${(error as Error).message}`;
  }
  return undefined;
}

/** The namespaces of one run, all named `<prefix>-...`. */
export class Network {
  readonly hosts = new Map<string, Host>();
  private readonly hubNs: string;

  constructor(readonly prefix: string) {
    this.hubNs = `${prefix}-hub`;
  }

  /** Creates the hub and one namespace per host (`name` → last octet of 10.77.0.x). */
  async create(hosts: Record<string, number>): Promise<void> {
    await ip(['netns', 'add', this.hubNs]);
    await ip(['-n', this.hubNs, 'link', 'set', 'lo', 'up']);
    await ip(['-n', this.hubNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', this.hubNs, 'link', 'set', 'br0', 'up']);
    for (const [name, octet] of Object.entries(hosts)) {
      const host: Host = {
        name,
        ns: `${this.prefix}-${name}`,
        address: `10.77.0.${octet}`,
        hubLink: `v-${name}`,
      };
      await ip(['netns', 'add', host.ns]);
      this.hosts.set(name, host);
      await ip([
        '-n',
        this.hubNs,
        'link',
        'add',
        host.hubLink,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        host.ns,
      ]);
      await ip(['-n', this.hubNs, 'link', 'set', host.hubLink, 'master', 'br0', 'up']);
      await ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      await ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** Connects or cuts a host's link (its hub-side veth up or down). */
  async setLink(name: string, up: boolean): Promise<void> {
    await ip(['-n', this.hubNs, 'link', 'set', this.host(name).hubLink, up ? 'up' : 'down']);
  }

  /** Every process still running in one of the run's namespaces. */
  async pids(): Promise<number[]> {
    const all: number[] = [];
    for (const ns of [...[...this.hosts.values()].map((h) => h.ns), this.hubNs]) {
      const out = await ip(['netns', 'pids', ns]).catch(() => '');
      all.push(...out.split('\n').filter(Boolean).map(Number));
    }
    return all;
  }

  /** Kills what still runs inside the namespaces, then deletes them. Safe to call twice. */
  async destroy(): Promise<void> {
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const ns of [...[...this.hosts.values()].map((h) => h.ns), this.hubNs]) {
      await ip(['netns', 'del', ns]).catch(() => {});
    }
  }
}

/** Deletes namespaces left by earlier soaks whose process is gone (`avc-<pid>-...`, pid not running). */
export async function removeStaleNamespaces(): Promise<string[]> {
  const out = await ip(['netns', 'list']).catch(() => '');
  const removed: string[] = [];
  for (const line of out.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = /^avc-(\d+)-/.exec(ns);
    if (!m || isAlive(Number(m[1]))) continue;
    const pids = await ip(['netns', 'pids', ns]).catch(() => '');
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await ip(['netns', 'del', ns]).catch(() => {});
    removed.push(ns);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
