/**
 * An S3-compatible server for tests: s3rver (in-process, files in a temp dir) behind a small front
 * proxy that adds what s3rver 3.7 lacks with AWS SDK v3: SigV4 checking, `aws-chunked` upload bodies,
 * public-read semantics and fault injection.
 *
 * What s3rver 3.7.1 does by itself (read from its source and checked in test/infra/s3-server.test.ts):
 * - Credentials: for SigV4 it only looks up the access key id (unknown id: 403 InvalidAccessKeyId); it
 *   never computes a V4 signature, so a wrong secret is accepted. `allowMismatchedSignatures` only
 *   relaxes its V2 check. Unsigned requests pass, writes included. The proxy here verifies SigV4
 *   (header and presigned URLs) and answers 403 SignatureDoesNotMatch / AccessDenied like S3.
 * - SDK v3 sends a streamed PutObject body as `aws-chunked` with a CRC32 trailer; s3rver stores the
 *   chunk framing as the object. The proxy decodes it. Multipart parts (lib-storage `Upload`) are fine.
 * - Bucket names must be 3-63 characters. CORS headers appear only after PutBucketCors.
 * - CopyObject with a percent-encoded CopySource of a key with `+` or non-ASCII fails with NoSuchKey.
 * - AbortMultipartUpload and ListMultipartUploads are missing (405 / NotImplemented). The proxy answers
 *   them from s3rver's own upload folders (`<dir>/<bucket>/._S3rver_uploads/<uploadId>/`), so a test
 *   sees what the server really still holds.
 */
import { rmSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { Agent, createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { CreateBucketCommand, PutBucketCorsCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { awsChunkedDecoder } from './s3-aws-chunked.js';
import { checkSigV4 } from './s3-sigv4.js';
import { tmpDir } from './tmp.js';

/** The minimal surface of s3rver 3.7 used here (it ships no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** What a fault handler can make the server do to one request instead of serving it. */
export type Fault = { status: number; code: string; message?: string } | 'reset';

/** One request the front proxy saw. */
export interface S3RequestLogEntry {
  method: string;
  /** Raw path and query, e.g. `/bucket/key?partNumber=1&uploadId=...`. */
  url: string;
  status: number;
}

/** Options for {@link startS3Server}. */
export interface S3ServerOptions {
  /**
   * Check SigV4 signatures and answer 403 on a wrong key or secret, or on an unsigned write.
   * Default true. False gives bare s3rver: any secret and unsigned writes are accepted.
   */
  verifySignatures?: boolean;
  /**
   * The account's key pair instead of s3rver's built-in `S3RVER`/`S3RVER` (whose secret equals its id,
   * so a test that greps output for the secret cannot tell them apart). Registered as an extra key
   * of s3rver's one account.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Keep the objects in this existing directory instead of a new temp dir, and leave them there on
   * stop (a server started again on the same directory serves them: a restart).
   */
  directory?: string;
}

/** A running test S3 server. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`; use path-style addressing. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Ready-made config: `new S3Client(server.clientConfig)`. */
  clientConfig: S3ClientConfig;
  /** Creates a bucket; `cors: true` also allows GET/HEAD from any origin (for browser players). */
  createBucket: (name: string, options?: { cors?: boolean }) => Promise<void>;
  /** The plain-HTTP URL of an object (objects are readable without credentials, as in a public bucket). */
  objectUrl: (bucket: string, key: string) => string;
  /** Requests answered so far, in the order their response headers were sent. */
  requests: S3RequestLogEntry[];
  /** Installs (or with undefined removes) a hook that may fail requests: return a Fault, or undefined to serve. */
  setFault: (handler: ((req: { method: string; url: string }) => Fault | undefined) | undefined) => void;
  /** Stops both servers and deletes the stored objects. */
  stop: () => Promise<void>;
}

/** s3rver's built-in credentials; its only account. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';
const REGION = 'us-east-1';

const require = createRequire(import.meta.url);

/** Starts s3rver and its front proxy on random loopback ports. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const verify = options.verifySignatures ?? true;
  const dir = options.directory
    ? { path: options.directory, cleanup: async () => {} }
    : await tmpDir('avspl1t-s3-');
  // If the test process dies without stop(), still delete the stored objects.
  const onExit = () => {
    if (!options.directory) rmSync(dir.path, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  const S3rver = require('s3rver') as S3rverClass;
  const backend = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir.path });
  const backendPort = (await backend.run()).port;
  const agent = new Agent({ keepAlive: true });
  const accessKeyId = options.credentials?.accessKeyId ?? ACCESS_KEY_ID;
  const secretAccessKey = options.credentials?.secretAccessKey ?? SECRET_ACCESS_KEY;
  if (options.credentials) {
    const account = require('s3rver/lib/models/account.js') as {
      DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
    };
    account.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  }
  const secrets = new Map([[accessKeyId, secretAccessKey]]);
  const requests: S3RequestLogEntry[] = [];
  let fault: ((req: { method: string; url: string }) => Fault | undefined) | undefined;

  const front = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const log = (status: number) => requests.push({ method, url, status });
    const fail = (status: number, code: string, message: string) => {
      req.resume();
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
      res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      log(status);
    };

    const injected = fault?.({ method, url });
    if (injected === 'reset') {
      req.socket.destroy();
      log(0);
      return;
    }
    if (injected) return fail(injected.status, injected.code, injected.message ?? 'injected fault');
    if (verify) {
      const check = checkSigV4({ method, url, headers: req.headers }, secrets);
      if (!check.ok) return fail(403, check.code, check.message);
      // Buckets behave as public-read: anonymous reads pass, anonymous writes don't.
      if (check.accessKeyId === undefined && !['GET', 'HEAD', 'OPTIONS'].includes(method)) {
        return fail(403, 'AccessDenied', 'Anonymous users cannot write');
      }
    }

    const multipart = multipartRequest(method, url);
    if (multipart) {
      req.resume();
      const uploads = path.join(dir.path, multipart.bucket, '._S3rver_uploads');
      void answerMultipart(multipart, uploads).then(
        ({ status, body }) => {
          res.writeHead(status, {
            'Content-Type': 'application/xml',
            'Content-Length': Buffer.byteLength(body),
          });
          res.end(body);
          log(status);
        },
        (error: Error) => fail(500, 'InternalError', `proxy: ${error.message}`),
      );
      return;
    }

    const { headers, body } = decodeBody(req);
    const upstream = httpRequest(
      { host: '127.0.0.1', port: backendPort, method, path: url, headers, agent },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        log(upstreamRes.statusCode ?? 502);
        pipeline(upstreamRes, res, () => {});
      },
    );
    pipeline(body, upstream, (error) => {
      if (error && !res.headersSent) fail(502, 'InternalError', `proxy: ${error.message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, '127.0.0.1', resolve);
  });
  const endpoint = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  const clientConfig: S3ClientConfig = {
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  };
  let stopped = false;

  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: REGION,
    clientConfig,
    requests,
    objectUrl: (bucket, key) => `${endpoint}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
    setFault: (handler) => {
      fault = handler;
    },
    createBucket: async (name, bucketOptions = {}) => {
      const client = new S3Client(clientConfig);
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
        if (bucketOptions.cors) {
          await client.send(
            new PutBucketCorsCommand({
              Bucket: name,
              CORSConfiguration: {
                CORSRules: [
                  {
                    AllowedOrigins: ['*'],
                    AllowedMethods: ['GET', 'HEAD'],
                    AllowedHeaders: ['*'],
                    ExposeHeaders: ['Content-Length', 'Content-Range', 'ETag'],
                  },
                ],
              },
            }),
          );
        }
      } finally {
        client.destroy();
      }
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      await new Promise<void>((resolve) => {
        front.close(() => resolve());
        front.closeAllConnections();
      });
      agent.destroy();
      await backend.close();
      await dir.cleanup();
    },
  };
}

/** AbortMultipartUpload (`DELETE /bucket/key?uploadId=`) or ListMultipartUploads (`GET /bucket?uploads`). */
type MultipartRequest =
  | { kind: 'abort'; bucket: string; uploadId: string }
  | { kind: 'list'; bucket: string };

function multipartRequest(method: string, url: string): MultipartRequest | undefined {
  const u = new URL(url, 'http://s3.invalid');
  const [bucket = '', ...key] = u.pathname.slice(1).split('/');
  const uploadId = u.searchParams.get('uploadId');
  if (method === 'DELETE' && key.length > 0 && uploadId) return { kind: 'abort', bucket, uploadId };
  if (method === 'GET' && key.join('') === '' && u.searchParams.has('uploads'))
    return { kind: 'list', bucket };
  return undefined;
}

/** Answers a MultipartRequest from s3rver's upload folders in `uploads`. */
async function answerMultipart(
  r: MultipartRequest,
  uploads: string,
): Promise<{ status: number; body: string }> {
  const ids = await readdir(uploads).catch(() => [] as string[]);
  if (r.kind === 'abort') {
    if (!/^[0-9a-f]+$/.test(r.uploadId) || !ids.includes(r.uploadId)) {
      return {
        status: 404,
        body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code></Error>',
      };
    }
    await rm(path.join(uploads, r.uploadId), { recursive: true, force: true });
    return { status: 204, body: '' };
  }
  const entries = await Promise.all(
    ids.map(async (id) => {
      const key = await readFile(path.join(uploads, id, 'key'), 'utf8');
      return `<Upload><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></Upload>`;
    }),
  );
  return {
    status: 200,
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Bucket>${escapeXml(r.bucket)}</Bucket><IsTruncated>false</IsTruncated>${entries.join('')}</ListMultipartUploadsResult>`,
  };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The body to forward and its headers: aws-chunked bodies are decoded and their length fixed up. */
function decodeBody(req: IncomingMessage): {
  headers: IncomingMessage['headers'];
  body: NodeJS.ReadableStream;
} {
  const headers = { ...req.headers };
  const encodings = (headers['content-encoding'] ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (!encodings.includes('aws-chunked')) return { headers, body: req };
  const rest = encodings.filter((e) => e !== 'aws-chunked');
  if (rest.length > 0) headers['content-encoding'] = rest.join(', ');
  else delete headers['content-encoding'];
  const decodedLength = headers['x-amz-decoded-content-length'];
  delete headers['transfer-encoding'];
  delete headers['x-amz-trailer'];
  delete headers['x-amz-decoded-content-length'];
  if (typeof decodedLength === 'string') headers['content-length'] = decodedLength;
  else delete headers['content-length'];
  const decoder = awsChunkedDecoder();
  req.once('error', (error) => decoder.destroy(error));
  return { headers, body: req.pipe(decoder) };
}
