import {
  compactVerify,
  jwtVerify,
  type CompactJWSHeaderParameters,
  type FlattenedJWSInput,
  type JWTVerifyOptions,
} from 'jose';
import { CertboundError } from '../errors.js';
import { jwsClaimsOf, jwsHeaderOf } from './compact-jws.js';
import { explainJwt } from './explain-jwt.js';
import { createKeyResolver } from './key-resolver.js';
import { mapJoseError } from './map-jose-error.js';
import { normalizeTyp, resolveVerifierOptions, type VerifierOptions } from './options.js';
import { nodeVerifies, verificationKeyOf, verifyJwsSignature } from './jws-signature.js';
import { checkRegisteredClaims } from './registered-claims.js';
import { requireKeyStrength } from './signing-key-strength.js';
import { checkTimeClaims } from './time-claims.js';
import type { TokenValidator, ValidatedToken } from './token-validator.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** The JWT {@link TokenValidator}, plus its cache counters and key warm-up. */
export interface JwtValidator extends TokenValidator {
  /** Verified-token cache counters (the verifier's stats add the per-connection memo hits). */
  readonly cache: VerifiedTokenCache;
  /** Fetches the JWKS now (warm-up before taking traffic). */
  refreshKeys(): Promise<void>;
}

// jose's key functions take the token too; selection reads the header only.
const NO_TOKEN: FlattenedJWSInput = { payload: '', signature: '' };

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * RFC 9068 JWT access tokens checked against one issuer's JWKS: size and shape, `alg` and
 * `typ` screened before jose (so `none`/HS* never reach key selection), time-claim ranges
 * jose lacks, then signature, `iss`, `aud`, `exp`/`nbf`/`iat`. Verified claims are cached
 * by the token's SHA-256 (one signature check for concurrent first uses); expiry is
 * re-checked on every call. Does not check `cnf` or policy.
 *
 * @throws TypeError on unsafe or incomplete options (no issuer/audience, `none`, HS*).
 */
export function createJwtValidator(options: VerifierOptions): JwtValidator {
  const opts = resolveVerifierOptions(options);
  const keys = createKeyResolver(options.jwks);
  const cache = new VerifiedTokenCache(opts.cacheSize);
  const toleranceMs = opts.clockToleranceSec * 1000;
  const pending = new Map<string, Promise<Readonly<Record<string, unknown>>>>();
  // FAPI 2.0 §5.4.1: weak signing keys refused when a minimum is set (the fapi2 profile).
  const getKey =
    opts.minRsaModulusBits > 0
      ? requireKeyStrength(keys.getKey, opts.minRsaModulusBits)
      : keys.getKey;

  /** `alg` and `typ` of the protected header, screened before jose. */
  function screenHeader(token: string): CompactJWSHeaderParameters & { typ: string } {
    let header;
    try {
      header = jwsHeaderOf(token) as CompactJWSHeaderParameters;
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
    // RFC 7515 §4.1.11: no extension is understood, so a critical one refuses the token.
    if (header.crit !== undefined || header.b64 !== undefined)
      throw new CertboundError('ERR_TOKEN_MALFORMED', 'The token header has unsupported crit/b64.');
    return header as CompactJWSHeaderParameters & { typ: string };
  }

  /** The payload, decoded and range-checked (not verified). */
  function screenClaims(token: string): Readonly<Record<string, unknown>> {
    let unverified: Readonly<Record<string, unknown>>;
    try {
      unverified = jwsClaimsOf(token);
    } catch {
      throw new CertboundError('ERR_TOKEN_MALFORMED');
    }
    // Range checks jose lacks (exp: 1e999 is Infinity), before any key lookup or signature work.
    checkTimeClaims(unverified, {
      nowSec: opts.now() / 1000,
      clockToleranceSec: opts.clockToleranceSec,
      maxTokenLifetimeSec: opts.maxTokenLifetimeSec,
    });
    return unverified;
  }

  /** jose's signature and claim checks, with the options every call uses. */
  function joseOptions(): JWTVerifyOptions & { algorithms: string[] } {
    return {
      algorithms: opts.algorithms,
      issuer: opts.issuer,
      audience: opts.audience,
      clockTolerance: opts.clockToleranceSec,
      requiredClaims: ['exp', 'iat'],
      currentDate: new Date(opts.now()),
    };
  }

  async function verifySignatureAndClaims(
    token: string,
  ): Promise<Readonly<Record<string, unknown>>> {
    const header = screenHeader(token);
    const unverified = screenClaims(token);
    if (!nodeVerifies(header.alg)) {
      try {
        const { payload } = await jwtVerify(token, getKey, joseOptions());
        return payload;
      } catch (err) {
        throw mapJoseError(err);
      }
    }
    // Claims before the key lookup and signature: a flood of forged tokens (wrong iss or
    // aud, expired) is refused for the cost of a JSON parse. Acceptance still needs the
    // signature below.
    checkRegisteredClaims(unverified, {
      issuers: opts.issuer,
      audiences: opts.audience,
      nowSec: opts.now() / 1000,
      clockToleranceSec: opts.clockToleranceSec,
    });
    let key: unknown;
    try {
      // jose selects the key (kid, kty, alg, use); node:crypto checks the signature on this
      // thread: one OpenSSL call instead of a WebCrypto job and its promise hops.
      key = await getKey(header, NO_TOKEN);
    } catch (err) {
      throw mapJoseError(err);
    }
    verifyJwsSignature(token, header.alg, verificationKeyOf(key, header.alg));
    return unverified;
  }

  /** Size and shape, before anything is decoded. */
  function screenShape(token: string): void {
    if (typeof token !== 'string' || token.length === 0)
      throw new CertboundError('ERR_TOKEN_MISSING');
    if (Buffer.byteLength(token, 'utf8') > opts.maxTokenBytes) {
      throw new CertboundError(
        'ERR_TOKEN_TOO_LARGE',
        `The token is larger than ${opts.maxTokenBytes} bytes.`,
      );
    }
    if (!JWS_COMPACT.test(token)) throw new CertboundError('ERR_TOKEN_MALFORMED');
  }

  async function claimsOf(token: string): Promise<Readonly<Record<string, unknown>>> {
    const key = VerifiedTokenCache.keyOf(token);
    const hit = cache.get(key, opts.now());
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

  return {
    kind: 'jwt',
    cache,
    async validate(token: string): Promise<ValidatedToken> {
      screenShape(token);
      const claims = await claimsOf(token);
      // Checked on every call, cached or not (exp may pass while the entry lives).
      const exp = claims['exp'];
      if (typeof exp !== 'number' || opts.now() >= exp * 1000 + toleranceMs) {
        throw new CertboundError('ERR_TOKEN_EXPIRED');
      }
      return { claims, validator: 'jwt', expiresAtMs: exp * 1000 };
    },
    explain: (token) =>
      explainJwt(token, {
        issuers: opts.issuer,
        audiences: opts.audience,
        maxTokenBytes: opts.maxTokenBytes,
        screenShape,
        screenHeader,
        screenClaims,
        signature: (t) => compactVerify(t, getKey, { algorithms: opts.algorithms }),
        claims: (t, o) => jwtVerify(t, getKey, o),
        joseOptions,
      }),
    ready: () => keys.ready(),
    refreshKeys: () => keys.refresh(),
    close: () => keys.close(),
  };
}
