// A CoordinatorService client over gRPC (HTTP/2), with a close() that drops the
// connection so short-lived processes and tests end cleanly.
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { CoordinatorService } from '../gen/avspl1t/v1/coordinator_pb.js';
import { coordinatorUrl } from './address.js';

export type CoordinatorClient = Client<typeof CoordinatorService>;

export interface ClientOptions {
  /** Extra interceptors (authentication metadata, logging). */
  interceptors?: Interceptor[];
}

/** A client and the function that closes its connection. */
export interface ClientHandle {
  client: CoordinatorClient;
  /** The coordinator's base URL. */
  url: string;
  close(): void;
}

/** Connects to a coordinator given as `host:port` or a URL (lazily: the first call connects). */
export function connectCoordinator(address: string, options: ClientOptions = {}): ClientHandle {
  const url = coordinatorUrl(address);
  const sessionManager = new Http2SessionManager(url, { pingIntervalMs: 10_000, pingTimeoutMs: 10_000 });
  const transport = createGrpcTransport({
    baseUrl: url,
    sessionManager,
    interceptors: options.interceptors ?? [],
  });
  return { client: createClient(CoordinatorService, transport), url, close: () => sessionManager.abort() };
}
