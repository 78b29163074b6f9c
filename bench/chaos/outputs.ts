// Reads a job's folders for the invariants: copies an output (filesystem or S3, through the S3
// host's unix socket) into a scratch folder for the media checks, and lists leftover temp files.

import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { GetObjectCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import type { Folder } from '../../src/gen/avspl1t/v1/storage_pb.js';
import { S3_KEYS } from './cluster.js';

/** A temp file name of the storage layer (`<name>.tmp-<pid>-<random>`). */
const TEMP_NAME = /\.tmp-/;

/** An HTTP agent whose every connection goes to one unix socket. */
class UnixSocketAgent extends Agent {
  constructor(private readonly socketPath: string) {
    super({ keepAlive: true });
  }
  override createConnection(): ReturnType<typeof connect> {
    return connect(this.socketPath);
  }
}

/** S3 as seen from outside the namespaces. */
export class S3Reader {
  private readonly client: S3Client;
  private readonly agent: UnixSocketAgent;

  constructor(socketPath: string) {
    this.agent = new UnixSocketAgent(socketPath);
    this.client = new S3Client({
      // An IP address: s3rver would take a host name for a virtual-hosted bucket.
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3_KEYS,
      requestHandler: { httpAgent: this.agent },
    });
  }

  /** Every key under `prefix/`. */
  async keys(bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const pages = paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: `${prefix}/` });
    for await (const page of pages) for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    return keys;
  }

  /** Downloads every object under `prefix/` into `dir`, keeping relative names. */
  async download(bucket: string, prefix: string, dir: string): Promise<void> {
    for (const key of await this.keys(bucket, prefix)) {
      const out = path.join(dir, key.slice(prefix.length + 1));
      await mkdir(path.dirname(out), { recursive: true });
      const answer = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      await writeFile(out, await answer.Body!.transformToByteArray());
    }
  }

  close(): void {
    this.client.destroy();
    this.agent.destroy();
  }
}

/** Copies a job's output folder into `dir` (which must not exist yet). */
export async function fetchFolder(folder: Folder, s3: S3Reader, dir: string): Promise<void> {
  const loc = folder.location;
  if (loc.case === 'fs') await cp(loc.value.path, dir, { recursive: true });
  else if (loc.case === 's3') await s3.download(loc.value.bucket, loc.value.path.replace(/\/$/, ''), dir);
  else throw new Error('folder without a location');
}

/** Temp files left in a folder (names relative to it); a missing filesystem folder has none. */
export async function tempFilesIn(folder: Folder, s3: S3Reader): Promise<string[]> {
  const loc = folder.location;
  if (loc.case === 's3') {
    const keys = await s3.keys(loc.value.bucket, loc.value.path.replace(/\/$/, ''));
    return keys.filter((k) => TEMP_NAME.test(k));
  }
  if (loc.case !== 'fs') return [];
  const names = await readdir(loc.value.path, { recursive: true }).catch(() => [] as string[]);
  return names.filter((n) => TEMP_NAME.test(path.basename(n)));
}
