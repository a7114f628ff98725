import { X509Certificate } from 'node:crypto';
import { checkClientLeaf } from './check-client-leaf.js';
import { derOf, thumbprintOf, type CertificateInput } from './thumbprint.js';

/** What a transport knows about the verified peer of one TLS connection. */
export interface PeerIdentity {
  /** RFC 8705 x5t#S256 of the peer's leaf certificate. */
  readonly thumbprint: string;
  /** The `spiffe://` URI SAN of the peer certificate, if it has exactly one. */
  readonly spiffeId?: string | undefined;
}

/**
 * SPIFFE ID in a subject-alternative-name string as node formats it
 * (`X509Certificate.subjectAltName`, `PeerCertificate.subjectaltname`): its single
 * `spiffe://` URI entry, or undefined when there is none or more than one (SPIFFE
 * X.509-SVID §2 allows exactly one). Node quotes an entry that holds a comma, so a crafted
 * `URI:"spiffe://a, URI:spiffe://b"` stays one (non-matching) entry.
 */
export function spiffeIdOfSubjectAltName(san: string | undefined): string | undefined {
  if (!san) return undefined;
  const ids = san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:spiffe://'))
    .map((entry) => entry.slice('URI:'.length));
  return ids.length === 1 ? ids[0] : undefined;
}

/** SPIFFE ID of a certificate, see {@link spiffeIdOfSubjectAltName}. */
export function spiffeIdOf(cert: X509Certificate): string | undefined {
  return spiffeIdOfSubjectAltName(cert.subjectAltName);
}

/**
 * Thumbprint and SPIFFE ID of a client's certificate, computed once per connection, after
 * {@link checkClientLeaf}: a certificate that may not act as a client leaf has no identity.
 *
 * @throws CertboundError `ERR_PEER_CERT_NOT_LEAF`, `ERR_PEER_CERT_WEAK_KEY` or
 *   `ERR_PEER_CERT_NOT_CLIENT` (see {@link checkClientLeaf})
 * @throws TypeError when `cert` is not a certificate in a supported form.
 */
export function peerIdentityOf(cert: CertificateInput): PeerIdentity {
  const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(derOf(cert));
  checkClientLeaf(x509);
  return { thumbprint: thumbprintOf(x509), spiffeId: spiffeIdOf(x509) };
}

/** True for an already computed {@link PeerIdentity} (as opposed to a certificate). */
export function isPeerIdentity(value: unknown): value is PeerIdentity {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Uint8Array) &&
    !(value instanceof X509Certificate) &&
    typeof (value as { thumbprint?: unknown }).thumbprint === 'string' &&
    !('raw' in value)
  );
}
