import { CertboundError } from '../errors.js';

/** Latest NumericDate accepted: 9999-12-31T23:59:59Z (the end of RFC 3339 / X.509 time). */
export const MAX_NUMERIC_DATE = 253_402_300_799;

/** Limits of {@link checkTimeClaims}, in seconds. */
export interface TimeClaimLimits {
  /** Now, in seconds since the epoch. */
  readonly nowSec: number;
  /** Clock skew tolerated on `iat` in the future. */
  readonly clockToleranceSec: number;
  /** Longest accepted lifetime: `exp − iat` (`exp − now` when there is no `iat`). */
  readonly maxTokenLifetimeSec: number;
}

const TIME_CLAIMS = ['exp', 'nbf', 'iat'] as const;

function numericDateOf(
  claims: Readonly<Record<string, unknown>>,
  name: string,
): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  // RFC 7519 §2 NumericDate; JSON.parse turns `1e999` into Infinity, which must not pass.
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > MAX_NUMERIC_DATE
  ) {
    throw new CertboundError(
      'ERR_TOKEN_CLAIMS',
      `The token ${name} claim is not a NumericDate between 1970 and 9999.`,
    );
  }
  return value;
}

/**
 * Checks what jose does not: `exp`, `nbf`, `iat` are finite NumericDates in a sane range
 * with `exp` not before `iat`, `iat` is not in the future (beyond the tolerance), and the
 * lifetime does not exceed the maximum. Pure; runs before signature work.
 *
 * Does not check `exp`/`nbf` against the clock (jose does, and the verifier re-checks `exp`
 * on every cache hit), nor that the claims are present.
 *
 * @throws CertboundError `ERR_TOKEN_CLAIMS`, `ERR_TOKEN_NOT_YET_VALID` or `ERR_TOKEN_LIFETIME`.
 */
export function checkTimeClaims(
  claims: Readonly<Record<string, unknown>>,
  limits: TimeClaimLimits,
): void {
  const [exp, , iat] = TIME_CLAIMS.map((name) => numericDateOf(claims, name));
  // Inside the clock tolerance jose would accept a token that expired before it was issued.
  if (exp !== undefined && iat !== undefined && exp < iat) {
    throw new CertboundError('ERR_TOKEN_CLAIMS', 'The token exp claim is before its iat.');
  }
  // RFC 7519 §4.1.6 iat: a token issued in the future comes from a clock we must not trust.
  if (iat !== undefined && iat > limits.nowSec + limits.clockToleranceSec) {
    throw new CertboundError('ERR_TOKEN_NOT_YET_VALID', 'The token iat is in the future.');
  }
  // Like Envoy jwt_authn's max_lifetime: a far exp (or an old iat) must not outlive the policy.
  if (exp !== undefined && exp - (iat ?? limits.nowSec) > limits.maxTokenLifetimeSec) {
    throw new CertboundError(
      'ERR_TOKEN_LIFETIME',
      `The token lifetime exceeds the maximum of ${limits.maxTokenLifetimeSec} s.`,
    );
  }
}
