export {
  createVerifier,
  type Verifier,
  type VerifierStats,
  type PeerInput,
} from './create-verifier.js';
export { DEFAULT_ALGORITHMS, type VerifierOptions, type JwksOption } from './options.js';
export { principalOf, scopesOf, type Principal, type PrincipalBinding } from './principal.js';
export { authorizationValuesOf, bearerTokenOf } from './bearer-token.js';
export {
  checkPolicy,
  policyFor,
  compilePolicies,
  type AccessPolicy,
  type RoutePolicy,
  type CompiledPolicy,
} from './policy.js';
export {
  requestTargetOf,
  normalisePath,
  policyPathOf,
  type RequestTarget,
  type RequestTargetOptions,
} from './request-path.js';
export { checkIdentityValues, type IdentityValues } from './identity-claims.js';
export { VerifiedTokenCache } from './verified-token-cache.js';
export {
  authorizeRequest,
  authorizeToken,
  type AuthorizationPipeline,
  type MemoEntry,
  type InboundRequest,
  type PolicyTable,
} from './authorize-request.js';
export type { TokenValidator, ValidatedToken } from './token-validator.js';
export {
  certificateEvidenceOf,
  proveBinding,
  type ProofContext,
  type CertificateEvidence,
  type BindingProof,
  type BindingInput,
} from './proof-of-possession.js';
export {
  proofRulesOf,
  PROOF_REQUIREMENTS,
  type ProofRequirement,
  type ProofRules,
  type CertificateSources,
} from './proof-requirement.js';
export type {
  DpopVerifier,
  DpopProofInput,
  VerifiedDpopProof,
  ForwardedCertificates,
  ForwardedCertificateInput,
  ForwardedResolution,
  ProofSources,
} from './proof-inputs.js';
export { credentialsOf, type Credentials } from './credentials.js';
export { createJwtValidator, type JwtValidator } from './jwt-validator.js';
export {
  createIntrospectionValidator,
  type IntrospectionValidator,
} from './introspection-validator.js';
export {
  INTROSPECTION_DEFAULTS,
  type IntrospectionOptions,
  type IntrospectionFetch,
  type IntrospectionResult,
} from './introspection-options.js';
export {
  createMultiIssuerVerifier,
  type IssuerOptions,
  type MultiIssuerVerifierOptions,
} from './multi-issuer-verifier.js';
