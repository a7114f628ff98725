import { PROOF_REQUIREMENTS } from '../verify/proof-requirement.js';
import { CertboundError } from '../errors.js';
import { isTls13Suite, RFC9325_TLS12_CIPHERS } from '../tls/follow-secure-context.js';
import { FAPI2_ALGORITHMS, FAPI2_MIN_RSA_MODULUS_BITS } from '../verify/options.js';
import type { CertboundConfig } from './schema.js';

export { FAPI2_ALGORITHMS, FAPI2_MIN_RSA_MODULUS_BITS };

/** FAPI 2.0 §5.3.2.1: iat/nbf up to 10 s in the future must pass, beyond 60 s must not. */
export const FAPI2_CLOCK_SKEW = { mustAcceptMs: 10_000, mustRefuseBeyondMs: 60_000 } as const;

/** Proof kinds of `inbound.policies[].proof` that sender-constrain the token (every one today). */
const SENDER_CONSTRAINED: ReadonlySet<string> = new Set(PROOF_REQUIREMENTS);

/** One setting that breaks the FAPI 2.0 Security Profile. */
export interface ProfileViolation {
  /** Section of FAPI 2.0 Security Profile (final) the setting breaks, e.g. `5.4.1`. */
  readonly section: string;
  /** The config key, e.g. `verify.algorithms`. */
  readonly key: string;
  /** What is wrong and the fix. */
  readonly message: string;
}

type VerifyConfig = NonNullable<CertboundConfig['verify']>;

function algorithmViolations(
  key: string,
  algorithms: readonly string[] | undefined,
): ProfileViolation[] {
  const allowed: readonly string[] = FAPI2_ALGORITHMS;
  return (algorithms ?? [])
    .filter((alg) => !allowed.includes(alg))
    .map((alg) => ({
      section: '5.4.1',
      key,
      message: `${alg} is not allowed: tokens must be signed with ${FAPI2_ALGORITHMS.join(', ')} (leave the key out for exactly these)`,
    }));
}

function jwksViolations(key: string, uri: string | undefined): ProfileViolation[] {
  if (uri === undefined || uri.startsWith('https:')) return [];
  return [{ section: '5.2.1', key, message: 'must be an https:// URL (TLS for every connection)' }];
}

function verifyViolations(v: VerifyConfig): ProfileViolation[] {
  const out = [
    ...algorithmViolations('verify.algorithms', v.algorithms),
    ...jwksViolations('verify.jwksUri', v.jwksUri),
  ];
  v.issuers?.forEach((issuer, i) => {
    out.push(...algorithmViolations(`verify.issuers[${i}].algorithms`, issuer.algorithms));
    out.push(...jwksViolations(`verify.issuers[${i}].jwksUri`, issuer.jwksUri));
  });
  if (v.clockTolerance < FAPI2_CLOCK_SKEW.mustAcceptMs)
    out.push({
      section: '5.3.2.1',
      key: 'verify.clockTolerance',
      message: `is ${v.clockTolerance / 1000} s: tokens issued up to 10 s in the future must be accepted (set 10s to 60s)`,
    });
  if (v.clockTolerance > FAPI2_CLOCK_SKEW.mustRefuseBeyondMs)
    out.push({
      section: '5.3.2.1',
      key: 'verify.clockTolerance',
      message: `is ${v.clockTolerance / 1000} s: tokens issued more than 60 s in the future must be refused (set 10s to 60s)`,
    });
  return out;
}

function inboundViolations(inb: NonNullable<CertboundConfig['inbound']>): ProfileViolation[] {
  const out: ProfileViolation[] = [];
  const tls12 = (inb.tls.ciphers ?? '').split(':').filter((n) => n !== '' && !isTls13Suite(n));
  for (const name of tls12) {
    if (!RFC9325_TLS12_CIPHERS.includes(name))
      out.push({
        section: '5.2.1',
        key: 'inbound.tls.ciphers',
        message: `${name} is not one of the BCP 195 (RFC 9325 §4.2) suites: ${RFC9325_TLS12_CIPHERS.join(', ')}`,
      });
  }
  inb.policies.forEach((policy, i) => {
    // Read generically: every proof kind certbound has is sender-constraining; a future
    // "bearer" kind must never pass the profile.
    const proof = (policy as Readonly<Record<string, unknown>>)['proof'];
    if (proof !== undefined && !(typeof proof === 'string' && SENDER_CONSTRAINED.has(proof)))
      out.push({
        section: '5.3.4',
        key: `inbound.policies[${i}].proof`,
        message: `${JSON.stringify(proof)} does not sender-constrain the token: every route must require mTLS or DPoP binding`,
      });
  });
  return out;
}

/**
 * Every setting of `config` that breaks the FAPI 2.0 Security Profile (final), with its
 * section: JWS algorithms (§5.4.1), TLS suites and https for every endpoint (§5.2.1),
 * clock skew (§5.3.2.1), sender-constrained tokens on every route (§5.3.4). Pure.
 *
 * Does not cover what only shows at run time: the size of the AS's signing keys (the
 * verifier refuses RSA < 2048 bits and EC < 224 bits under the profile) and tokens outside
 * the `Authorization` header (never read by certbound, so always refused).
 */
export function fapi2ViolationsOf(config: CertboundConfig): ProfileViolation[] {
  return [
    ...(config.verify !== undefined ? verifyViolations(config.verify) : []),
    ...(config.inbound !== undefined ? inboundViolations(config.inbound) : []),
  ];
}

/** `§5.4.1 verify.algorithms: RS256 is not allowed …` */
export function formatViolation(v: ProfileViolation): string {
  return `§${v.section} ${v.key}: ${v.message}`;
}

/**
 * Refuses to run a configuration that sets `profile: fapi2` and breaks it (fail closed).
 *
 * @throws CertboundError `ERR_CONFIG_INVALID` listing every violation
 */
export function assertProfile(config: CertboundConfig): void {
  if (config.profile !== 'fapi2') return;
  const violations = fapi2ViolationsOf(config);
  if (violations.length === 0) return;
  throw new CertboundError(
    'ERR_CONFIG_INVALID',
    `the configuration sets profile: fapi2 but breaks it:\n${violations.map((v) => `  - ${formatViolation(v)}`).join('\n')}`,
    { details: { key: violations[0]!.key } },
  );
}
