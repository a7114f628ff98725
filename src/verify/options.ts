import type { ProofSources } from './proof-inputs.js';
import type { JSONWebKeySet } from 'jose';

/** Algorithms accepted when `algorithms` is not set. Never `none`, never HS*. */
export const DEFAULT_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const;

/**
 * The defaults of {@link VerifierOptions}: their one home (the config schema's
 * `verify.*` defaults come from here).
 */
export const VERIFIER_DEFAULTS = {
  types: ['at+jwt'],
  clockToleranceSec: 30,
  maxTokenLifetimeSec: 86_400,
  maxTokenBytes: 8192,
  cacheSize: 10_000,
} as const;

/** The defaults of a remote {@link JwksOption} (config `verify.jwksCooldown`, `jwksMaxAge`, `jwksTimeout`). */
export const JWKS_DEFAULTS = {
  cooldownMs: 30_000,
  cacheMaxAgeMs: 600_000,
  timeoutMs: 5_000,
} as const;

/** Where the verifier gets the authorization server's public keys. */
export type JwksOption =
  | {
      /** JWKS URL (https). Fetched with jose's `createRemoteJWKSet`. */
      url: string | URL;
      /** PEM CA certificate(s) that sign the AS's TLS certificate. Default: node's roots. */
      ca?: string | string[];
      /** Client certificate PEM + key PEM when the JWKS endpoint wants mTLS. */
      cert?: string;
      key?: string;
      /** Minimum time between two refetches for an unknown `kid`. Default 30 s. */
      cooldownMs?: number;
      /** Refetch the set after this age when a token is verified. Default 10 min. */
      cacheMaxAgeMs?: number;
      /** Timeout of one JWKS fetch. Default 5 s. */
      timeoutMs?: number;
    }
  | {
      /** A JWKS object, e.g. read from a file mounted beside the sidecar. */
      keys: JSONWebKeySet;
    };

/** Options of {@link createVerifier}. */
export interface VerifierOptions extends ProofSources {
  /** Where the signing keys come from. */
  jwks: JwksOption;
  /** Expected `iss` (exact match). Required: a verifier that trusts any issuer is a bug. */
  issuer: string | string[];
  /** Accepted `aud` values; the token must name at least one. Required. */
  audience: string | string[];
  /** Allowed JWS algorithms. Default {@link DEFAULT_ALGORITHMS}. `none` and HS* throw. */
  algorithms?: string[];
  /** Accepted `typ` header values (RFC 9068 §2.1). Default `['at+jwt']`. */
  types?: string[];
  /** Clock skew tolerated on `exp`/`nbf`/`iat`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /**
   * Longest accepted token lifetime, `exp − iat` (`exp − now` without `iat`), in seconds.
   * Default 86 400 (24 h). Longer-lived tokens are refused with `ERR_TOKEN_LIFETIME`.
   */
  maxTokenLifetimeSec?: number;
  /** Maximum token length in bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Entries in the verified-token cache (0 disables it). Default 10 000. */
  cacheSize?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** {@link VerifierOptions} with every default applied. */
export interface ResolvedVerifierOptions {
  readonly issuer: string[];
  readonly audience: string[];
  readonly algorithms: string[];
  readonly types: string[];
  readonly clockToleranceSec: number;
  readonly maxTokenLifetimeSec: number;
  readonly maxTokenBytes: number;
  readonly cacheSize: number;
  readonly now: () => number;
}

const FORBIDDEN_ALG = /^(none|HS\d+)$/i;

function nonEmptyList(name: string, value: string | string[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new TypeError(`${name} must be a non-empty string or array of non-empty strings`);
  }
  return list;
}

/**
 * Applies defaults and rejects unsafe settings at once.
 *
 * @throws TypeError on a missing issuer/audience or an unsafe algorithm (`none`, HS*).
 */
export function resolveVerifierOptions(options: VerifierOptions): ResolvedVerifierOptions {
  const algorithms = options.algorithms ?? [...DEFAULT_ALGORITHMS];
  if (algorithms.length === 0) throw new TypeError('algorithms must not be empty');
  const unsafe = algorithms.filter((alg) => FORBIDDEN_ALG.test(alg));
  if (unsafe.length > 0) {
    throw new TypeError(
      `algorithms ${unsafe.join(', ')} are refused: access tokens must be signed with an asymmetric key (e.g. ES256)`,
    );
  }
  const clockToleranceSec = options.clockToleranceSec ?? VERIFIER_DEFAULTS.clockToleranceSec;
  const maxTokenLifetimeSec = options.maxTokenLifetimeSec ?? VERIFIER_DEFAULTS.maxTokenLifetimeSec;
  const maxTokenBytes = options.maxTokenBytes ?? VERIFIER_DEFAULTS.maxTokenBytes;
  const cacheSize = options.cacheSize ?? VERIFIER_DEFAULTS.cacheSize;
  if (!(clockToleranceSec >= 0)) throw new TypeError('clockToleranceSec must be >= 0');
  if (!(maxTokenLifetimeSec > 0 && Number.isFinite(maxTokenLifetimeSec))) {
    throw new TypeError('maxTokenLifetimeSec must be a finite number > 0');
  }
  if (!(maxTokenBytes > 0)) throw new TypeError('maxTokenBytes must be > 0');
  if (!(cacheSize >= 0)) throw new TypeError('cacheSize must be >= 0');
  return {
    issuer: nonEmptyList('issuer', options.issuer),
    audience: nonEmptyList('audience', options.audience),
    algorithms,
    types: (options.types ?? VERIFIER_DEFAULTS.types).map(normalizeTyp),
    clockToleranceSec,
    maxTokenLifetimeSec,
    maxTokenBytes,
    cacheSize,
    now: options.now ?? Date.now,
  };
}

/** RFC 7515 §4.1.9: `typ` compares case-insensitively, `application/` may be omitted. */
export function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
