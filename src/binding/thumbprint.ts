import { hash, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/** Anything certbound accepts as "a certificate". */
export type CertificateInput = Uint8Array | string | X509Certificate | PeerCertificate;

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/;

/**
 * The DER bytes of a certificate given as DER, PEM (the first certificate is used),
 * a node `X509Certificate` or a `tls.PeerCertificate` (its `.raw`).
 *
 * Does not parse or validate the certificate beyond locating its DER.
 *
 * @throws TypeError when the input is none of those forms.
 */
export function derOf(cert: CertificateInput): Uint8Array {
  if (cert instanceof Uint8Array) {
    if (cert.length === 0) throw new TypeError('certificate DER must not be empty');
    return cert;
  }
  if (typeof cert === 'string') {
    const match = PEM_CERT.exec(cert);
    if (!match?.[1]) throw new TypeError('string is not a PEM certificate');
    const der = Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
    if (der.length === 0) throw new TypeError('PEM certificate has an empty body');
    return der;
  }
  if (cert instanceof X509Certificate) return cert.raw;
  if (
    typeof cert === 'object' &&
    cert !== null &&
    'raw' in cert &&
    cert.raw instanceof Uint8Array
  ) {
    if (cert.raw.length === 0) throw new TypeError('peer certificate has no DER (.raw is empty)');
    return cert.raw;
  }
  throw new TypeError(
    'expected a certificate as DER bytes, PEM string, X509Certificate or tls.PeerCertificate',
  );
}

/**
 * RFC 8705 §3.1 thumbprint: base64url (no padding) of SHA-256 over the certificate's DER.
 *
 * @throws TypeError when `cert` is not a certificate in a supported form.
 */
export function thumbprintOf(cert: CertificateInput): string {
  return hash('sha256', derOf(cert), 'base64url');
}
