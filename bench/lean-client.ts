// A minimal gRPC unary client over one HTTP/2 session, for the simulated workers
// of the dispatch benchmark: the Connect client spends ~1 ms of CPU per call,
// which on a small machine would measure the load generator instead of the
// coordinator. Same wire protocol (length-prefixed protobuf, grpc-status
// trailers); no retries, compression or deadlines.
import http2 from 'node:http2';
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import { CoordinatorService } from '../src/gen/avspl1t/v1/coordinator_pb.js';

const { HTTP2_HEADER_PATH, HTTP2_HEADER_METHOD, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_TE } =
  http2.constants;

export class LeanClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(address: string) {
    this.session = http2.connect(`http://${address}`);
    this.session.on('error', () => {});
  }

  /** Calls a unary method; rejects with the grpc-message when the status is not OK. */
  call<I extends DescMessage, O extends DescMessage>(
    method: { name: string; input: I; output: O },
    request: MessageInitShape<I>,
    signal?: AbortSignal,
  ): Promise<MessageShape<O>> {
    const body = toBinary(method.input, create(method.input, request));
    const framed = Buffer.allocUnsafe(5 + body.length);
    framed[0] = 0;
    framed.writeUInt32BE(body.length, 1);
    framed.set(body, 5);
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        [HTTP2_HEADER_METHOD]: 'POST',
        [HTTP2_HEADER_PATH]: `/${CoordinatorService.typeName}/${method.name}`,
        [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto',
        [HTTP2_HEADER_TE]: 'trailers',
      });
      const onAbort = () => stream.close(http2.constants.NGHTTP2_CANCEL);
      signal?.addEventListener('abort', onAbort, { once: true });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      const take = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) {
          status = String(h['grpc-status']);
          message = decodeURIComponent(String(h['grpc-message'] ?? ''));
        }
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      stream.on('close', () => {
        signal?.removeEventListener('abort', onAbort);
        if (status !== '0') {
          reject(new Error(`${method.name}: grpc-status ${status ?? '?'} ${message}`));
          return;
        }
        const data = Buffer.concat(chunks);
        resolve(fromBinary(method.output, data.subarray(5, 5 + data.readUInt32BE(1))));
      });
      stream.end(framed);
    });
  }

  close(): void {
    this.session.destroy();
  }
}
