/**
 * Checks AWS Signature Version 4 on an incoming S3 request (Authorization header or presigned URL), for
 * the test S3 server: s3rver only looks up the access key id, so a wrong secret would pass unnoticed.
 * The payload hash is taken as declared in `x-amz-content-sha256`; the body itself is not hashed.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The parts of a request that the signature covers. */
export interface SignedRequest {
  method: string;
  /** Raw path and query as received, e.g. `/bucket/key%20x?uploads=`. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** S3 error codes this check can produce (all answered with HTTP 403). */
export type SigV4ErrorCode = 'InvalidAccessKeyId' | 'SignatureDoesNotMatch' | 'AccessDenied';

/** Outcome: signed by a known key, anonymous (no signature at all), or an S3 error. */
export type SigV4Check =
  | { ok: true; accessKeyId: string | undefined }
  | { ok: false; code: SigV4ErrorCode; message: string };

interface Parsed {
  accessKeyId: string;
  scope: string;
  date: string;
  region: string;
  service: string;
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  payloadHash: string;
  query: string;
  expiresSeconds?: number;
}

/** Verifies the request's SigV4 signature against `secrets` (access key id → secret key). */
export function checkSigV4(
  req: SignedRequest,
  secrets: ReadonlyMap<string, string>,
  now = new Date(),
): SigV4Check {
  const parsed = parse(req);
  if (parsed === 'anonymous') return { ok: true, accessKeyId: undefined };
  if (typeof parsed === 'string') return { ok: false, code: 'AccessDenied', message: parsed };
  const secret = secrets.get(parsed.accessKeyId);
  if (secret === undefined) {
    return {
      ok: false,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
    };
  }
  if (parsed.expiresSeconds !== undefined) {
    const signedAt = Date.parse(
      parsed.amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    if (!(signedAt + parsed.expiresSeconds * 1000 >= now.getTime())) {
      return { ok: false, code: 'AccessDenied', message: 'Request has expired' };
    }
  }
  const [path = '/'] = req.url.split('?', 1);
  const canonicalRequest = [
    req.method,
    path,
    canonicalQuery(parsed.query),
    ...parsed.signedHeaders.map((name) => `${name}:${headerValue(req.headers[name])}`),
    '',
    parsed.signedHeaders.join(';'),
    parsed.payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', parsed.amzDate, parsed.scope, sha256Hex(canonicalRequest)].join(
    '\n',
  );
  let key: Buffer = hmac(`AWS4${secret}`, parsed.date);
  for (const part of [parsed.region, parsed.service, 'aws4_request']) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
  const given = Buffer.from(parsed.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message:
        'The request signature we calculated does not match the signature you provided. ' +
        'Check your key and signing method.',
    };
  }
  return { ok: true, accessKeyId: parsed.accessKeyId };
}

function parse(req: SignedRequest): Parsed | 'anonymous' | string {
  const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  const params = new URLSearchParams(query);
  const authorization = headerValue(req.headers.authorization);
  if (authorization) {
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!match) return 'Only AWS4-HMAC-SHA256 Authorization headers are supported';
    const amzDate = headerValue(req.headers['x-amz-date']);
    const payloadHash = headerValue(req.headers['x-amz-content-sha256']);
    if (!amzDate || !payloadHash) return 'Missing x-amz-date or x-amz-content-sha256';
    return withCredential(match[1]!, {
      amzDate,
      signedHeaders: match[2]!.split(';'),
      signature: match[3]!,
      payloadHash,
      query,
    });
  }
  if (params.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256') {
    const credential = params.get('X-Amz-Credential');
    const amzDate = params.get('X-Amz-Date');
    const signedHeaders = params.get('X-Amz-SignedHeaders');
    const signature = params.get('X-Amz-Signature');
    if (!credential || !amzDate || !signedHeaders || !signature) return 'Incomplete presigned URL';
    return withCredential(credential, {
      amzDate,
      signedHeaders: signedHeaders.split(';'),
      signature,
      payloadHash: 'UNSIGNED-PAYLOAD',
      query: query
        .split('&')
        .filter((pair) => !pair.startsWith('X-Amz-Signature='))
        .join('&'),
      expiresSeconds: Number(params.get('X-Amz-Expires') ?? '604800'),
    });
  }
  if (params.has('Signature') || params.has('AWSAccessKeyId')) {
    return 'Only Signature Version 4 is supported';
  }
  return 'anonymous';
}

function withCredential(
  credential: string,
  rest: Omit<Parsed, 'accessKeyId' | 'scope' | 'date' | 'region' | 'service'>,
): Parsed | string {
  const [accessKeyId, date, region, service, terminator] = credential.split('/');
  if (!accessKeyId || !date || !region || !service || terminator !== 'aws4_request') {
    return 'Malformed credential scope';
  }
  return {
    accessKeyId,
    date,
    region,
    service,
    scope: [date, region, service, terminator].join('/'),
    ...rest,
  };
}

/** Query parameters decoded, re-encoded the RFC 3986 way and sorted, as SigV4 specifies. */
function canonicalQuery(query: string): string {
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      const [key, value] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      return [encodeRfc3986(decodeURIComponent(key)), encodeRfc3986(decodeURIComponent(value))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function headerValue(value: string | string[] | undefined): string {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined.trim().replace(/\s+/g, ' ');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}
