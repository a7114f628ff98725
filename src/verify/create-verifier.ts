import { isPeerIdentity, peerIdentityOf, type PeerIdentity } from '../binding/peer-identity.js';
import type { CertificateInput } from '../binding/thumbprint.js';
import { CertboundError } from '../errors.js';
import type { ReadinessStatus } from '../readiness-check.js';
import { authorizeToken, type AuthorizationPipeline } from './authorize-request.js';
import { createJwtValidator } from './jwt-validator.js';
import { VERIFIER_DEFAULTS, type VerifierOptions } from './options.js';
import type { Principal } from './principal.js';
import type { ProofSources } from './proof-inputs.js';
import type { TokenValidator } from './token-validator.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** The peer of a connection: a certificate in any form, or its precomputed identity. */
export type PeerInput = CertificateInput | PeerIdentity | null | undefined;

/** Counters of a verifier, for metrics. */
export interface VerifierStats {
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly cacheSize: number;
}

/** Verifies bound access tokens. Create one per process and share it. */
export interface Verifier {
  /**
   * The inbound pipeline's steps (token validator, proof of possession), for
   * `authorizeRequest` — what every transport calls.
   */
  readonly pipeline: AuthorizationPipeline;
  /**
   * Verifies `token` (signature, `typ`, `iss`, `aud`, `exp`/`nbf`/`iat` — finite, in range,
   * `iat` not in the future, lifetime at most `maxTokenLifetimeSec` — size) and that it is
   * bound to `peer` (RFC 8705 §3.1). Does not check scopes or policy: see `checkPolicy`.
   *
   * @throws CertboundError with a stable code; never resolves for an invalid token.
   */
  verify(token: string, peer: PeerInput): Promise<Principal>;
  /** Cache counters. */
  stats(): VerifierStats;
  /**
   * Whether tokens can be verified now: false before the JWKS was first fetched, and when
   * the keys are older than `cacheMaxAgeMs` while refetching them fails (the reason names
   * the URL and the last error). Always true for a local key set.
   */
  ready(): ReadinessStatus;
  /**
   * Fetches the JWKS now (warm-up before taking traffic).
   *
   * @throws CertboundError `ERR_JWKS_UNAVAILABLE` saying what is wrong (URL, status, body).
   */
  refreshKeys(): Promise<void>;
  /** Releases the JWKS fetcher's sockets. */
  close(): Promise<void>;
}

/** What {@link composeVerifier} builds a {@link Verifier} from. */
export interface VerifierParts extends ProofSources {
  /** Every validator (their caches are counted, readiness combined, all closed). */
  readonly validators: readonly TokenValidator[];
  /** Picks the validator of one token. */
  validatorFor(token: string): TokenValidator;
  /** Fetches every remote key set now. */
  refreshKeys(): Promise<void>;
  readonly clockToleranceSec: number;
  readonly cacheOn: boolean;
  readonly now: () => number;
}

function cacheOf(validator: TokenValidator): VerifiedTokenCache | undefined {
  const cache = (validator as { cache?: unknown }).cache;
  return cache instanceof VerifiedTokenCache ? cache : undefined;
}

/**
 * The {@link Verifier} of a set of token validators: the inbound pipeline with its proof
 * sources (the connection's certificate; DPoP and forwarded certificates when given), the per-connection memo, and the validators' counters, readiness
 * (a failing one names itself in the reason) and close.
 */
export function composeVerifier(parts: VerifierParts): Verifier {
  const caches = parts.validators.map(cacheOf).filter((c) => c !== undefined);
  let memoHits = 0;
  const pipeline: AuthorizationPipeline = {
    validatorFor: (token) => parts.validatorFor(token),
    forwarded: parts.forwardedCertificates,
    dpop: parts.dpop,
    clockToleranceMs: parts.clockToleranceSec * 1000,
    now: parts.now,
    ...(parts.cacheOn ? { memo: new WeakMap() } : {}),
    onMemoHit: () => {
      memoHits++;
    },
  };
  // A certificate (not a per-connection identity) gets no memo: each call makes a new object.
  const noMemo: AuthorizationPipeline = { ...pipeline, memo: undefined };
  const sum = (of: (c: VerifiedTokenCache) => number): number =>
    caches.reduce((n, c) => n + of(c), 0);

  return {
    pipeline,
    verify(token: string, peer: PeerInput): Promise<Principal> {
      // The peer is resolved first: a request without a verified certificate is refused
      // before any token work is done.
      if (peer === null || peer === undefined)
        return Promise.reject(new CertboundError('ERR_PEER_CERT_MISSING'));
      if (isPeerIdentity(peer)) return authorizeToken(token, { peer }, pipeline);
      let identity: PeerIdentity;
      try {
        identity = peerIdentityOf(peer);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new TypeError(String(err)));
      }
      return authorizeToken(token, { peer: identity }, noMemo);
    },
    stats: () => ({
      cacheHits: sum((c) => c.hits) + memoHits,
      cacheMisses: sum((c) => c.misses),
      cacheSize: sum((c) => c.size),
    }),
    ready(): ReadinessStatus {
      const reasons = parts.validators
        .map((v) => v.ready())
        .filter((r) => !r.ok)
        .map((r) => r.reason ?? 'not ready');
      // The shared DPoP replay store: without it proofs cannot be checked for replay.
      const dpopProblem = parts.dpop?.readinessProblem?.();
      if (dpopProblem !== undefined) reasons.push(dpopProblem);
      if (reasons.length === 0) return { ok: true };
      return { ok: false, reason: reasons.join('; ') };
    },
    refreshKeys: () => parts.refreshKeys(),
    close: async () => {
      await Promise.all([...parts.validators.map((v) => v.close()), parts.dpop?.close?.()]);
    },
  };
}

/**
 * Creates a {@link Verifier} for RFC 9068 JWT access tokens bound to client certificates:
 * the JWT token validator and the mTLS proof of possession, composed by the inbound
 * pipeline (`authorizeRequest`).
 *
 * @throws TypeError on unsafe or incomplete options (no issuer/audience, `none`, HS*).
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const jwt = createJwtValidator(options);
  return composeVerifier({
    validators: [jwt],
    validatorFor: () => jwt,
    refreshKeys: () => jwt.refreshKeys(),
    clockToleranceSec: options.clockToleranceSec ?? VERIFIER_DEFAULTS.clockToleranceSec,
    cacheOn: (options.cacheSize ?? 1) > 0,
    now: options.now ?? Date.now,
    dpop: options.dpop,
    forwardedCertificates: options.forwardedCertificates,
  });
}
