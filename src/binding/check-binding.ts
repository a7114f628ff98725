import { CertboundError } from '../errors.js';
import { constantTimeEqual } from './constant-time-equal.js';

const THUMBPRINT_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * RFC 8705 §3.1: the token's `cnf["x5t#S256"]` must equal the thumbprint of the
 * certificate presented on *this* connection.
 *
 * The comparison is constant-time and exact: padded, hex or standard-base64 encodings of
 * the right digest are mismatches. Does not check anything else in `claims`.
 *
 * @param claims the verified token claims (or introspection response)
 * @param thumbprint base64url SHA-256 of the peer certificate, see `thumbprintOf`
 * @throws CertboundError `ERR_CNF_MISSING`, `ERR_CNF_THUMBPRINT_MISSING`, `ERR_BINDING_MISMATCH`
 * @throws TypeError when `thumbprint` is not a base64url SHA-256 digest
 */
export function checkBinding(claims: Readonly<Record<string, unknown>>, thumbprint: string): void {
  if (typeof thumbprint !== 'string' || !THUMBPRINT_SHAPE.test(thumbprint)) {
    throw new TypeError('thumbprint must be a base64url SHA-256 digest (43 characters)');
  }
  const cnf = claims['cnf'];
  if (cnf === undefined || cnf === null) {
    throw new CertboundError('ERR_CNF_MISSING');
  }
  if (typeof cnf !== 'object' || Array.isArray(cnf)) {
    throw new CertboundError('ERR_CNF_MISSING', 'The token cnf claim is not a JSON object.');
  }
  const bound = (cnf as Record<string, unknown>)['x5t#S256'];
  if (typeof bound !== 'string' || bound.length === 0) {
    throw new CertboundError('ERR_CNF_THUMBPRINT_MISSING');
  }
  if (!constantTimeEqual(bound, thumbprint)) {
    throw new CertboundError('ERR_BINDING_MISMATCH');
  }
}
