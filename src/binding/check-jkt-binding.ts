import { CertboundError } from '../errors.js';
import { constantTimeEqual } from './constant-time-equal.js';

/**
 * The token's `cnf.jkt` (RFC 9449 §6.1; for opaque tokens the introspection response's,
 * §6.2), or undefined when the token is not DPoP-bound.
 *
 * @throws CertboundError `ERR_CNF_MISSING` when `cnf` is not an object, or `jkt` is not a
 *   non-empty string
 */
export function jktOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims['cnf'];
  if (cnf === undefined || cnf === null) return undefined;
  if (typeof cnf !== 'object' || Array.isArray(cnf))
    throw new CertboundError('ERR_CNF_MISSING', 'The token cnf claim is not a JSON object.');
  const jkt = (cnf as Record<string, unknown>)['jkt'];
  if (jkt === undefined) return undefined;
  if (typeof jkt !== 'string' || jkt.length === 0)
    throw new CertboundError('ERR_CNF_MISSING', 'The token cnf.jkt is not a non-empty string.');
  return jkt;
}

/** True when the token carries a `cnf.x5t#S256` member (whatever its value). */
export function hasCertificateBinding(claims: Readonly<Record<string, unknown>>): boolean {
  const cnf = claims['cnf'];
  return (
    typeof cnf === 'object' &&
    cnf !== null &&
    !Array.isArray(cnf) &&
    (cnf as Record<string, unknown>)['x5t#S256'] !== undefined
  );
}

/**
 * RFC 9449 §6.1: the token's `cnf.jkt` equals the RFC 7638 thumbprint of the DPoP proof's
 * key, compared in constant time.
 *
 * @throws CertboundError `ERR_DPOP_NOT_BOUND` (no `cnf.jkt`) or `ERR_DPOP_KEY_MISMATCH`
 */
export function checkJktBinding(claims: Readonly<Record<string, unknown>>, jkt: string): void {
  const bound = jktOf(claims);
  if (bound === undefined) throw new CertboundError('ERR_DPOP_NOT_BOUND');
  if (!constantTimeEqual(bound, jkt)) throw new CertboundError('ERR_DPOP_KEY_MISMATCH');
}
