// Public surface of the RPC layer shared by coordinator, worker and CLI.
export { coordinatorUrl, formatHostPort, type HostPort, parseHostPort } from './address.js';
export {
  type AuthConfig,
  authEnabled,
  authGate,
  bearerInterceptor,
  WORKER_METHODS,
} from './auth.js';
export {
  type ClientHandle,
  type ClientOptions,
  type CoordinatorClient,
  connectCoordinator,
} from './client.js';
export { codeOf, fromRpcError, toConnectError } from './errors.js';
