import { CertboundError } from '../errors.js';
import { checkTimeClaims } from './time-claims.js';

/** What {@link checkIntrospectedClaims} compares an introspection response against. */
export interface IntrospectionExpectations {
  /** The issuer this introspection endpoint speaks for (exact match when `iss` is present). */
  readonly issuer: string;
  /** Accepted audiences; the response must name at least one in `aud` (or `audience`). */
  readonly audience: readonly string[];
  /** Accepted `token_type` values when present, compared case-insensitively. */
  readonly tokenTypes: readonly string[];
  /** Now, in seconds since the epoch. */
  readonly nowSec: number;
  readonly clockToleranceSec: number;
  readonly maxTokenLifetimeSec: number;
}

function listOf(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return undefined;
}

/**
 * Checks an RFC 7662 §2.2 response the way a JWT's claims are checked: `active` is exactly
 * `true`, `exp` present, finite and in the future, `nbf`/`iat` sane, `iss` (when present) this
 * issuer, an accepted audience in `aud` (or the `audience` some servers send), and
 * `token_type` (when present) a bearer-style type. Pure, re-run on every cache hit.
 *
 * Does not check `cnf` (the proof-of-possession step does, on the same claims) nor scopes
 * (policy).
 *
 * @throws CertboundError `ERR_TOKEN_INACTIVE`, `ERR_TOKEN_EXPIRED`, `ERR_TOKEN_NOT_YET_VALID`,
 *   `ERR_TOKEN_CLAIMS`, `ERR_TOKEN_LIFETIME`, `ERR_TOKEN_ISSUER`, `ERR_TOKEN_AUDIENCE`,
 *   `ERR_TOKEN_TYPE`
 */
export function checkIntrospectedClaims(
  claims: Readonly<Record<string, unknown>>,
  expected: IntrospectionExpectations,
): void {
  // RFC 7662 §2.2: anything but the JSON boolean true means "do not accept this token".
  if (claims['active'] !== true) throw new CertboundError('ERR_TOKEN_INACTIVE');
  checkTimeClaims(claims, expected);
  const exp = claims['exp'];
  // RFC 7662 makes exp optional; a token without a known end cannot be cached or bounded.
  if (typeof exp !== 'number')
    throw new CertboundError('ERR_TOKEN_CLAIMS', 'The introspection response has no exp.');
  if (expected.nowSec >= exp + expected.clockToleranceSec)
    throw new CertboundError('ERR_TOKEN_EXPIRED');
  const nbf = claims['nbf'];
  if (typeof nbf === 'number' && nbf > expected.nowSec + expected.clockToleranceSec)
    throw new CertboundError('ERR_TOKEN_NOT_YET_VALID');
  const iss = claims['iss'];
  if (iss !== undefined && iss !== expected.issuer)
    throw new CertboundError('ERR_TOKEN_ISSUER', 'The introspected token has another issuer.');
  const audience = listOf(claims['aud'] ?? claims['audience']) ?? [];
  if (!audience.some((a) => expected.audience.includes(a)))
    throw new CertboundError(
      'ERR_TOKEN_AUDIENCE',
      'The introspected token is not for this audience.',
    );
  const type = claims['token_type'];
  if (
    type !== undefined &&
    !(typeof type === 'string' && expected.tokenTypes.includes(type.toLowerCase()))
  ) {
    throw new CertboundError(
      'ERR_TOKEN_TYPE',
      `The introspected token_type must be one of: ${expected.tokenTypes.join(', ')}.`,
    );
  }
}
