/**
 * certbound core: certificate binding (RFC 8705), the inbound authorization pipeline and
 * bound-token verification (RFC 9068), workload identity sources, TLS that follows them,
 * the outbound token client and the sidecar.
 *
 * Transport libraries live in `certbound/http` and `certbound/grpc`. Every export is
 * listed in docs/api.md (a test keeps the two in step).
 */
export {
  CertboundError,
  isCertboundError,
  ERROR_TABLE,
  ERROR_CODES,
  GrpcCode,
  type ErrorCode,
  type ErrorMapping,
  type BearerErrorCode,
  type CertboundErrorOptions,
} from './errors.js';
export {
  thumbprintOf,
  checkBinding,
  constantTimeEqual,
  peerIdentityOf,
  spiffeIdOf,
  checkClientLeaf,
  onPeerRefusal,
  type CertificateInput,
  type PeerIdentity,
  type PeerRefusal,
} from './binding/index.js';
export {
  createVerifier,
  createMultiIssuerVerifier,
  createIntrospectionValidator,
  authorizeRequest,
  authorizeToken,
  createJwtValidator,
  credentialsOf,
  checkPolicy,
  policyFor,
  principalOf,
  scopesOf,
  bearerTokenOf,
  requestTargetOf,
  normalisePath,
  DEFAULT_ALGORITHMS,
  type Verifier,
  type VerifierStats,
  type VerifierOptions,
  type MultiIssuerVerifierOptions,
  type IssuerOptions,
  type IntrospectionOptions,
  type IntrospectionValidator,
  type JwksOption,
  type PeerInput,
  type Principal,
  type AccessPolicy,
  type RoutePolicy,
  type RequestTarget,
  type AuthorizationPipeline,
  type InboundRequest,
  type PolicyTable,
  type TokenValidator,
  type ValidatedToken,
  type ProofContext,
  type ProofRequirement,
  type Credentials,
  type DpopVerifier,
  type DpopProofInput,
  type VerifiedDpopProof,
  type ForwardedCertificates,
  type ForwardedCertificateInput,
  type ForwardedResolution,
  type ProofSources,
  type PrincipalBinding,
  type JwtValidator,
} from './verify/index.js';
export {
  StaticX509Source,
  FileX509Source,
  SelfRenewingX509Source,
  X509SourceBase,
  checkIdentity,
  createCsr,
  watchIdentityStats,
  type X509Source,
  type WorkloadIdentity,
  type IdentityMaterial,
  type FileX509SourceOptions,
  type SelfRenewingX509SourceOptions,
  type CheckIdentityOptions,
  type CsrSigner,
  type SigningRequest,
  type SignedCertificate,
  type KeyType,
  type IdentityStats,
} from './identity/index.js';
export { devCaSigner } from './devca/dev-ca-signer.js';
export {
  followSecureContext,
  tlsOptionsOf,
  ConnectionsPerIdentity,
  undiciAgentsPerIdentity,
  httpsAgentsPerIdentity,
  type TlsContextSettings,
  type ConnectionFactory,
  type UndiciAgentOptions,
  type HttpsAgentOptions,
} from './tls/index.js';
export {
  createInboundRecorder,
  type InboundRecorder,
  type InboundOutcome,
} from './observability/inbound-recorder.js';
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
