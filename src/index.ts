/**
 * certbound core: certificate binding (RFC 8705), bound-token verification (RFC 9068),
 * workload identity sources and the development CA.
 *
 * Transport adapters live in `certbound/http` and `certbound/grpc`.
 */
export * from './errors.js';
export * from './binding/index.js';
export * from './verify/index.js';
export * from './identity/index.js';
export * from './tls/index.js';
export { parseDuration } from './duration.js';
export type { AccessToken, TokenRequest, TokenProvider } from './token/access-token.js';
export {
  TokenClient,
  createTokenClient,
  type TokenClientStats,
  type TokenClientEndpoints,
  type TokenClientOptions,
  type TlsAuthMethod,
} from './token/index.js';
export { startSidecar, type Sidecar, type SidecarOptions } from './sidecar/index.js';
export {
  loadConfigFile,
  parseConfig,
  parseConfigText,
  type CertboundConfig,
  type CertboundConfigInput,
} from './config/index.js';
