import { CertboundError } from '../errors.js';
import { constantTimeEqual } from './constant-time-equal.js';

const JKT_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * RFC 9449 §6.1 (JWT) and §6.2 (introspection): the token's `cnf.jkt` must equal the RFC
 * 7638 SHA-256 thumbprint of the DPoP proof's key. Constant-time and exact (a padded or
 * standard-base64 thumbprint is a mismatch). Does not verify the proof itself.
 *
 * @param claims verified token claims, or the introspection response (its `cnf` is there)
 * @param jkt base64url thumbprint of the proof's `jwk`
 * @throws CertboundError `ERR_CNF_JKT_MISSING`, `ERR_DPOP_BINDING_MISMATCH`
 * @throws TypeError when `jkt` is not a base64url SHA-256 digest
 */
export function checkJktBinding(claims: Readonly<Record<string, unknown>>, jkt: string): void {
  if (typeof jkt !== 'string' || !JKT_SHAPE.test(jkt))
    throw new TypeError('jkt must be a base64url SHA-256 digest (43 characters)');
  const bound = jktOf(claims);
  if (bound === undefined) throw new CertboundError('ERR_CNF_JKT_MISSING');
  if (!constantTimeEqual(bound, jkt)) throw new CertboundError('ERR_DPOP_BINDING_MISMATCH');
}

/** The token's `cnf.jkt` when it is a non-empty string (a DPoP-bound token), else undefined. */
export function jktOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims['cnf'];
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return undefined;
  const jkt = (cnf as Record<string, unknown>)['jkt'];
  return typeof jkt === 'string' && jkt.length > 0 ? jkt : undefined;
}
