// The coordinator's API in the browser: connect-web over the Connect protocol,
// with the messages generated from the same proto as the server (src/gen).
// The client token typed into the page is kept in sessionStorage for the tab.
import { type Client, Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { CoordinatorService } from '../../src/gen/avspl1t/v1/coordinator_pb.js';

const TOKEN_KEY = 'avspl1t-token';

export type Coordinator = Client<typeof CoordinatorService>;

/** The token this tab uses ('' when none was given). */
export function savedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

const withToken: Interceptor = (next) => (req) => {
  const token = savedToken();
  if (token) req.header.set('authorization', `Bearer ${token}`);
  return next(req);
};

/** A client for the coordinator that served this page. */
export function coordinatorClient(): Coordinator {
  const transport = createConnectTransport({
    baseUrl: window.location.origin,
    useBinaryFormat: true,
    interceptors: [withToken],
  });
  return createClient(CoordinatorService, transport);
}

/** Whether `err` says the call needs a (valid) token. */
export function needsToken(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Unauthenticated;
}

/** The message of an error from a call, for people. */
export function errorText(err: unknown): string {
  return ConnectError.from(err).rawMessage;
}
