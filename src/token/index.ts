export type { AccessToken, TokenRequest, TokenProvider } from './access-token.js';
export { TokenClient, createTokenClient } from './token-client.js';
export type { TokenClientStats } from './token-client-stats.js';
export type { TokenClientEndpoints } from './authorization-server.js';
export {
  resolveTokenClientOptions,
  type TokenClientOptions,
  type ResolvedTokenClientOptions,
  type TlsAuthMethod,
} from './options.js';
export { normalizeTokenRequest, type NormalizedTokenRequest } from './token-request-key.js';
export { accessTokenOf, type TokenResponseContext } from './process-token-response.js';
export {
  discoverAuthorizationServer,
  type DiscoveryOptions,
} from './discover-authorization-server.js';
export { mapAsError } from './map-as-error.js';
export { backoffDelay } from './backoff.js';
export { MtlsAgents, type FetchFunction } from './mtls-agents.js';
