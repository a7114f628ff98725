import { composeVerifier, type Verifier } from './create-verifier.js';
import type { IntrospectionOptions } from './introspection-options.js';
import { createIntrospectionValidator } from './introspection-validator.js';
import { issuerRouter } from './issuer-router.js';
import { createJwtValidator, type JwtValidator } from './jwt-validator.js';
import { VERIFIER_DEFAULTS, type JwksOption } from './options.js';
import type { ProofSources } from './proof-inputs.js';
import type { TokenValidator } from './token-validator.js';

/** One trusted issuer of {@link createMultiIssuerVerifier}: JWTs (`jwks`), opaque tokens (`introspection`), or both. */
export interface IssuerOptions {
  /** The issuer identifier (`iss`, exact match). */
  issuer: string;
  /** Accepted audiences of this issuer's tokens. */
  audience: string | string[];
  /** This issuer's signing keys: its JWTs are verified with these only. */
  jwks?: JwksOption;
  /** Allowed JWS algorithms of its JWTs. Default `DEFAULT_ALGORITHMS`. */
  algorithms?: string[];
  /** Accepted `typ` of its JWTs. Default `['at+jwt']`. */
  types?: string[];
  /** RFC 7662 introspection of opaque tokens (at most one issuer per verifier). */
  introspection?: Omit<
    IntrospectionOptions,
    'issuer' | 'audience' | 'clockToleranceSec' | 'maxTokenLifetimeSec' | 'maxTokenBytes' | 'now'
  >;
}

/** Options of {@link createMultiIssuerVerifier}; the shared ones apply to every issuer. */
export interface MultiIssuerVerifierOptions extends ProofSources {
  issuers: IssuerOptions[];
  /** Clock skew tolerated on `exp`/`nbf`/`iat`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /** Longest accepted token lifetime, in seconds. Default 86 400. */
  maxTokenLifetimeSec?: number;
  /** Maximum token length in bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Entries in each JWT validator's verified-token cache (0 disables them and the memo). Default 10 000. */
  cacheSize?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * A {@link Verifier} trusting several issuers: each JWT goes, by the `iss` of its payload,
 * to exactly that issuer's JWT validator (its keys, audience, algorithms); an opaque token
 * goes to the one issuer configured for introspection. Binding (mTLS proof) and policy are
 * the same steps as for one issuer. Policies can require an issuer (`AccessPolicy.issuers`).
 *
 * @throws TypeError on an empty list, a duplicated issuer, an issuer with neither `jwks`
 *   nor `introspection`, more than one introspection issuer, or unsafe validator options
 */
export function createMultiIssuerVerifier(options: MultiIssuerVerifierOptions): Verifier {
  if (!Array.isArray(options.issuers) || options.issuers.length === 0)
    throw new TypeError('issuers must list at least one issuer');
  const shared = {
    ...(options.clockToleranceSec !== undefined
      ? { clockToleranceSec: options.clockToleranceSec }
      : {}),
    ...(options.maxTokenLifetimeSec !== undefined
      ? { maxTokenLifetimeSec: options.maxTokenLifetimeSec }
      : {}),
    ...(options.maxTokenBytes !== undefined ? { maxTokenBytes: options.maxTokenBytes } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
  };
  const jwtByIssuer = new Map<string, JwtValidator>();
  let opaque: TokenValidator | undefined;
  const validators: TokenValidator[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of options.issuers.entries()) {
    const where = `issuers[${i}] (${String(entry.issuer)})`;
    if (entry.jwks === undefined && entry.introspection === undefined)
      throw new TypeError(`${where} needs jwks or introspection`);
    if (seen.has(entry.issuer)) throw new TypeError(`${where} is listed twice`);
    seen.add(entry.issuer);
    if (entry.jwks !== undefined) {
      const jwt = createJwtValidator({
        jwks: entry.jwks,
        issuer: entry.issuer,
        audience: entry.audience,
        ...(entry.algorithms !== undefined ? { algorithms: entry.algorithms } : {}),
        ...(entry.types !== undefined ? { types: entry.types } : {}),
        ...(options.cacheSize !== undefined ? { cacheSize: options.cacheSize } : {}),
        ...shared,
      });
      jwtByIssuer.set(entry.issuer, jwt);
      validators.push(jwt);
    }
    if (entry.introspection !== undefined) {
      if (opaque !== undefined)
        throw new TypeError(
          `${where}: only one issuer can introspect opaque tokens (they carry no issuer to route by)`,
        );
      opaque = createIntrospectionValidator({
        ...entry.introspection,
        issuer: entry.issuer,
        audience: entry.audience,
        ...shared,
      });
      validators.push(opaque);
    }
  }
  const jwts = [...jwtByIssuer.values()];
  return composeVerifier({
    validators,
    validatorFor: issuerRouter(
      jwtByIssuer,
      opaque,
      options.maxTokenBytes ?? VERIFIER_DEFAULTS.maxTokenBytes,
    ),
    refreshKeys: async () => {
      await Promise.all(jwts.map((j) => j.refreshKeys()));
    },
    clockToleranceSec: options.clockToleranceSec ?? VERIFIER_DEFAULTS.clockToleranceSec,
    cacheOn: (options.cacheSize ?? 1) > 0,
    now: options.now ?? Date.now,
    dpop: options.dpop,
    forwardedCertificates: options.forwardedCertificates,
  });
}
