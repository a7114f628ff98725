import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { checkBinding } from '../binding/check-binding.js';
import { isPeerIdentity, peerIdentityOf, type PeerIdentity } from '../binding/peer-identity.js';
import type { CertificateInput } from '../binding/thumbprint.js';
import { CertboundError } from '../errors.js';
import type { ReadinessStatus } from '../readiness-check.js';
import { createKeyResolver } from './key-resolver.js';
import { mapJoseError } from './map-jose-error.js';
import { normalizeTyp, resolveVerifierOptions, type VerifierOptions } from './options.js';
import { principalOf, type Principal } from './principal.js';
import { checkTimeClaims } from './time-claims.js';
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

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Creates a {@link Verifier} for RFC 9068 JWT access tokens bound to client certificates.
 *
 * @throws TypeError on unsafe or incomplete options (no issuer/audience, `none`, HS*).
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const opts = resolveVerifierOptions(options);
  const keys = createKeyResolver(options.jwks);
  const cache = new VerifiedTokenCache(opts.cacheSize);
  const toleranceMs = opts.clockToleranceSec * 1000;
  const pending = new Map<string, Promise<Readonly<Record<string, unknown>>>>();

  async function verifySignatureAndClaims(
    token: string,
  ): Promise<Readonly<Record<string, unknown>>> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new CertboundError('ERR_TOKEN_MALFORMED');
    }
    // Checked before jose so `none`/HS* never reach key selection (RFC 8725 §3.1).
    if (typeof header.alg !== 'string' || !opts.algorithms.includes(header.alg)) {
      throw new CertboundError(
        'ERR_TOKEN_ALG',
        `Algorithm ${typeof header.alg === 'string' ? header.alg.slice(0, 16) : '(missing)'} is not allowed.`,
      );
    }
    if (typeof header.typ !== 'string' || !opts.types.includes(normalizeTyp(header.typ))) {
      throw new CertboundError(
        'ERR_TOKEN_TYPE',
        `Token typ must be one of: ${opts.types.join(', ')}.`,
      );
    }
    let unverified: Readonly<Record<string, unknown>>;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new CertboundError('ERR_TOKEN_MALFORMED');
    }
    // Range checks jose lacks (exp: 1e999 is Infinity), before any key lookup or signature work.
    checkTimeClaims(unverified, {
      nowSec: opts.now() / 1000,
      clockToleranceSec: opts.clockToleranceSec,
      maxTokenLifetimeSec: opts.maxTokenLifetimeSec,
    });
    try {
      const { payload } = await jwtVerify(token, keys.getKey, {
        algorithms: opts.algorithms,
        issuer: opts.issuer,
        audience: opts.audience,
        clockTolerance: opts.clockToleranceSec,
        requiredClaims: ['exp', 'iat'],
        currentDate: new Date(opts.now()),
      });
      return payload;
    } catch (err) {
      throw mapJoseError(err);
    }
  }

  async function claimsOf(token: string): Promise<Readonly<Record<string, unknown>>> {
    const key = VerifiedTokenCache.keyOf(token);
    const now = opts.now();
    const hit = cache.get(key, now);
    if (hit !== undefined) return hit.claims;
    // Single-flight: concurrent first uses of one token cost one signature check.
    let inflight = pending.get(key);
    if (inflight === undefined) {
      inflight = verifySignatureAndClaims(token).finally(() => pending.delete(key));
      pending.set(key, inflight);
    }
    const claims = await inflight;
    const exp = claims['exp'];
    if (typeof exp === 'number') cache.set(key, { claims, deadAt: exp * 1000 + toleranceMs });
    return claims;
  }

  // Per connection (its PeerIdentity object), the last token verified on it: keep-alive
  // traffic re-sends the same token, and this skips hashing, the LRU and building the
  // Principal. Expiry and the binding are still checked on every call. Off with cacheSize 0.
  const lastOnConnection = new WeakMap<PeerIdentity, { token: string; principal: Principal }>();

  return {
    async verify(token: string, peer: PeerInput): Promise<Principal> {
      // The peer is resolved first: a request without a verified certificate is refused
      // before any token work is done.
      if (peer === null || peer === undefined) throw new CertboundError('ERR_PEER_CERT_MISSING');
      const peerIsIdentity = isPeerIdentity(peer);
      const identity = peerIsIdentity ? peer : peerIdentityOf(peer);
      const last = peerIsIdentity && opts.cacheSize > 0 ? lastOnConnection.get(peer) : undefined;
      if (last !== undefined && last.token === token) {
        if (opts.now() >= last.principal.expiresAt.getTime() + toleranceMs) {
          throw new CertboundError('ERR_TOKEN_EXPIRED');
        }
        checkBinding(last.principal.claims, identity.thumbprint);
        cache.hits++;
        return last.principal;
      }
      if (typeof token !== 'string' || token.length === 0)
        throw new CertboundError('ERR_TOKEN_MISSING');
      if (Buffer.byteLength(token, 'utf8') > opts.maxTokenBytes) {
        throw new CertboundError(
          'ERR_TOKEN_TOO_LARGE',
          `The token is larger than ${opts.maxTokenBytes} bytes.`,
        );
      }
      if (!JWS_COMPACT.test(token)) throw new CertboundError('ERR_TOKEN_MALFORMED');
      const claims = await claimsOf(token);
      // Checked on every call, cached or not (exp may pass while the entry lives).
      const exp = claims['exp'];
      if (typeof exp !== 'number' || opts.now() >= exp * 1000 + toleranceMs) {
        throw new CertboundError('ERR_TOKEN_EXPIRED');
      }
      checkBinding(claims, identity.thumbprint);
      const principal = Object.freeze(principalOf(claims, identity));
      if (peerIsIdentity && opts.cacheSize > 0) lastOnConnection.set(peer, { token, principal });
      return principal;
    },
    stats: () => ({ cacheHits: cache.hits, cacheMisses: cache.misses, cacheSize: cache.size }),
    ready: () => keys.ready(),
    refreshKeys: () => keys.refresh(),
    close: () => keys.close(),
  };
}
