// Network addresses as written on the command line: `host:port`, `[v6]:port`,
// `:port`, or a full http(s) URL for clients.
import { invalidInput } from '../errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port` (port 0 = any free port); a bare `:port` listens on all interfaces. */
export function parseHostPort(value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw invalidInput(`invalid address "${value}": expected host:port, e.g. 127.0.0.1:50051`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Formats a host and port, bracketing IPv6 hosts. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The base URL of a coordinator given as `host:port` or as a URL. */
export function coordinatorUrl(address: string): string {
  if (/^https?:\/\//i.test(address)) return address.replace(/\/+$/, '');
  return `http://${formatHostPort(parseHostPort(address))}`;
}
