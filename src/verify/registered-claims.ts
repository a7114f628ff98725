import { CertboundError } from '../errors.js';

/** What {@link checkRegisteredClaims} expects of an access token. */
export interface RegisteredClaimRules {
  /** Accepted `iss` values (exact match). */
  readonly issuers: readonly string[];
  /** Accepted audiences: `aud` must name at least one. */
  readonly audiences: readonly string[];
  readonly nowSec: number;
  readonly clockToleranceSec: number;
}

/**
 * RFC 9068 §4 / RFC 7519 §4.1 checks of a verified payload against the clock and the
 * configuration: `iss` exact, `aud` names an accepted audience, `exp` and `iat` present,
 * `exp` not passed and `nbf` reached (within the tolerance). Ranges and `iat` in the future
 * are `checkTimeClaims`' part.
 *
 * @throws CertboundError `ERR_TOKEN_ISSUER`, `ERR_TOKEN_AUDIENCE`, `ERR_TOKEN_EXPIRED`,
 *   `ERR_TOKEN_NOT_YET_VALID` or `ERR_TOKEN_CLAIMS`
 */
export function checkRegisteredClaims(
  claims: Readonly<Record<string, unknown>>,
  rules: RegisteredClaimRules,
): void {
  const iss = claims['iss'];
  if (typeof iss !== 'string' || !rules.issuers.includes(iss))
    throw new CertboundError('ERR_TOKEN_ISSUER');
  const aud = claims['aud'];
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.some((a) => typeof a === 'string' && rules.audiences.includes(a)))
    throw new CertboundError('ERR_TOKEN_AUDIENCE');
  const exp = claims['exp'];
  if (typeof exp !== 'number')
    throw new CertboundError('ERR_TOKEN_CLAIMS', 'The token exp claim is missing or invalid.');
  if (exp <= rules.nowSec - rules.clockToleranceSec) throw new CertboundError('ERR_TOKEN_EXPIRED');
  const nbf = claims['nbf'];
  if (nbf !== undefined) {
    if (typeof nbf !== 'number')
      throw new CertboundError('ERR_TOKEN_CLAIMS', 'The token nbf claim is not a number.');
    if (nbf > rules.nowSec + rules.clockToleranceSec)
      throw new CertboundError('ERR_TOKEN_NOT_YET_VALID');
  }
  if (typeof claims['iat'] !== 'number')
    throw new CertboundError('ERR_TOKEN_CLAIMS', 'The token iat claim is missing or not a number.');
}
