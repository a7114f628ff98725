import { X509Certificate } from 'node:crypto';
import { CertboundError } from '../../errors.js';

/** Most certificates one header may carry (leaf included); a mesh chain is 2–4. */
export const MAX_FORWARDED_CERTIFICATES = 8;

/** What a forwarded-certificate header carries, decoded but not yet validated. */
export interface ForwardedChain {
  /** The client's leaf certificate. */
  readonly leaf: X509Certificate;
  /** The other certificates sent with it (intermediates, maybe the anchor), as sent. */
  readonly chain: readonly X509Certificate[];
  /** Envoy XFCC `By=`: the URI SAN of the proxy that added the element, when sent. */
  readonly by?: string | undefined;
}

/** The `ERR_FORWARDED_CERT_MALFORMED` refusal of a header; `reason` never holds the value. */
export function malformedHeader(header: string, reason: string): CertboundError {
  return new CertboundError(
    'ERR_FORWARDED_CERT_MALFORMED',
    `The forwarded client certificate header ${header} is malformed: ${reason}.`,
    { details: { header, reason } },
  );
}

/**
 * `der` as one certificate, strictly: it parses and is nothing but the certificate (no
 * trailing bytes, which a lenient DER reader would skip).
 *
 * @throws CertboundError `ERR_FORWARDED_CERT_MALFORMED`
 */
export function certificateOfDer(der: Uint8Array, header: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw malformedHeader(header, 'a value is not a DER X.509 certificate');
  }
  if (cert.raw.length !== der.length)
    throw malformedHeader(header, 'a certificate has trailing bytes after its DER');
  return cert;
}

/** The one value of a header that must not repeat. @throws ERR_FORWARDED_CERT_MALFORMED */
export function singleValueOf(values: readonly string[], header: string): string {
  if (values.length !== 1) throw malformedHeader(header, 'it is sent more than once');
  return values[0] as string;
}
