import { X509Certificate } from 'node:crypto';
import { derOf, thumbprintOf, type CertificateInput } from './thumbprint.js';

/** What a transport knows about the verified peer of one TLS connection. */
export interface PeerIdentity {
  /** RFC 8705 x5t#S256 of the peer's leaf certificate. */
  readonly thumbprint: string;
  /** The `spiffe://` URI SAN of the peer certificate, if it has exactly one. */
  readonly spiffeId?: string | undefined;
}

/**
 * SPIFFE ID of a certificate: its single `spiffe://` URI SAN, or undefined when there is
 * none or more than one (the SPIFFE X.509-SVID spec allows exactly one).
 */
export function spiffeIdOf(cert: X509Certificate): string | undefined {
  const san = cert.subjectAltName;
  if (!san) return undefined;
  const ids = san
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:spiffe://'))
    .map((entry) => entry.slice('URI:'.length));
  return ids.length === 1 ? ids[0] : undefined;
}

/**
 * Thumbprint and SPIFFE ID of a peer certificate, computed once per connection.
 *
 * @throws TypeError when `cert` is not a certificate in a supported form.
 */
export function peerIdentityOf(cert: CertificateInput): PeerIdentity {
  const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(derOf(cert));
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
