import type { X509Certificate } from 'node:crypto';
import { CertboundError } from '../errors.js';

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Smallest RSA modulus accepted, in bits. */
export const MIN_RSA_BITS = 2048;
/** EC curves accepted for a client key (P-256 or larger), by OpenSSL name. */
const STRONG_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
/** Key types without a size parameter that are strong enough (≥ 128-bit security). */
const STRONG_FIXED_KEYS = new Set(['ed25519', 'ed448']);

/** Extended key usages of `cert` (OIDs), or undefined when it has no EKU extension. */
export function extendedKeyUsageOf(cert: X509Certificate): readonly string[] | undefined {
  // Node ≥ 23 names it `extKeyUsage`; `keyUsage` is the older name for the same list.
  const modern = (cert as { extKeyUsage?: readonly string[] }).extKeyUsage;
  return modern ?? cert.keyUsage;
}

function keyProblemOf(cert: X509Certificate): string | undefined {
  const key = cert.publicKey;
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    return bits >= MIN_RSA_BITS
      ? undefined
      : `its RSA key has ${bits} bits, at least ${MIN_RSA_BITS} are required`;
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown';
    return STRONG_CURVES.has(curve)
      ? undefined
      : `its EC key is on ${curve}, P-256 or larger is required`;
  }
  if (type !== undefined && STRONG_FIXED_KEYS.has(type)) return undefined;
  return `its key type ${type ?? 'unknown'} is not accepted`;
}

function refusal(
  code: 'ERR_PEER_CERT_NOT_LEAF' | 'ERR_PEER_CERT_WEAK_KEY' | 'ERR_PEER_CERT_NOT_CLIENT',
  reason: string,
): CertboundError {
  return new CertboundError(code, `The client certificate is refused: ${reason}.`, {
    details: { reason },
  });
}

/**
 * Checks that `cert` may act as a TLS client leaf, after the chain was verified:
 * - not a CA certificate (`basicConstraints CA:TRUE`): SPIFFE X.509-SVID §4.1 forbids a CA
 *   certificate as a leaf SVID;
 * - key size: RSA ≥ 2048 bits, EC on P-256 or larger, or Ed25519/Ed448 (FAPI 2.0 Security
 *   Profile §5.4.1 sets minimum key sizes; P-256 is certbound's floor for EC);
 * - if it has an extended key usage extension, the list holds `clientAuth`
 *   (RFC 5280 §4.2.1.12: an EKU without it is not a client certificate).
 *
 * Pure: no I/O, no clock. Does not check the chain, validity dates or revocation (the TLS
 * stack did), nor the SPIFFE ID (policy does). Callers compute it once per connection.
 *
 * @throws CertboundError `ERR_PEER_CERT_NOT_LEAF`, `ERR_PEER_CERT_WEAK_KEY` or
 *   `ERR_PEER_CERT_NOT_CLIENT`; the message names the reason, never the certificate.
 */
export function checkClientLeaf(cert: X509Certificate): void {
  if (cert.ca) {
    throw refusal('ERR_PEER_CERT_NOT_LEAF', 'it is a CA certificate (basicConstraints CA:TRUE)');
  }
  const weak = keyProblemOf(cert);
  if (weak !== undefined) throw refusal('ERR_PEER_CERT_WEAK_KEY', weak);
  const eku = extendedKeyUsageOf(cert);
  if (eku !== undefined && !eku.includes(OID_CLIENT_AUTH)) {
    throw refusal('ERR_PEER_CERT_NOT_CLIENT', 'its extended key usage does not include clientAuth');
  }
}
