export {
  createVerifier,
  type Verifier,
  type VerifierStats,
  type PeerInput,
} from './create-verifier.js';
export { DEFAULT_ALGORITHMS, type VerifierOptions, type JwksOption } from './options.js';
export { principalOf, scopesOf, type Principal } from './principal.js';
export { authorizationValuesOf, bearerTokenOf } from './bearer-token.js';
export { checkPolicy, policyFor, type AccessPolicy } from './policy.js';
export { VerifiedTokenCache } from './verified-token-cache.js';
export {
  authorizeRequest,
  authorizeToken,
  type AuthorizationPipeline,
  type InboundRequest,
  type PolicyTable,
} from './authorize-request.js';
export type { TokenValidator, ValidatedToken } from './token-validator.js';
export { mtlsProof, type ProofOfPossession, type ProofContext } from './proof-of-possession.js';
export { createJwtValidator, type JwtValidator } from './jwt-validator.js';
