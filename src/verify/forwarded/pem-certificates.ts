import { malformedHeader } from './forwarded-chain.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const PEM_BLOCK =
  /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END CERTIFICATE-----\s*/;

/**
 * Strict standard base64 (RFC 4648 §4, padded) to bytes: node's decoder skips what it does
 * not understand, which would let two different header values name one certificate.
 *
 * @throws CertboundError `ERR_FORWARDED_CERT_MALFORMED`
 */
export function strictBase64(text: string, header: string): Uint8Array {
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text))
    throw malformedHeader(header, 'a value is not base64');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw malformedHeader(header, 'a value is not base64');
  return bytes;
}

/**
 * DER of every certificate of a PEM text that holds nothing else (whitespace between
 * blocks only), in order. Unlike the identity files' reader, nothing is skipped: a header is
 * input from the network.
 *
 * @throws CertboundError `ERR_FORWARDED_CERT_MALFORMED`
 */
export function strictPemCertificates(pem: string, header: string, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let rest = pem.trimStart();
  if (rest.length === 0) throw malformedHeader(header, 'a value is empty');
  while (rest.length > 0) {
    const block = PEM_BLOCK.exec(rest);
    if (block === null) throw malformedHeader(header, 'a value is not a PEM certificate');
    out.push(strictBase64((block[1] as string).replace(/\r?\n/g, ''), header));
    if (out.length > max) throw malformedHeader(header, `it carries more than ${max} certificates`);
    rest = rest.slice(block[0].length);
  }
  return out;
}

/**
 * RFC 3986 §2.1 percent-decoding of an URL-encoded PEM (nginx `$ssl_client_escaped_cert`,
 * Envoy XFCC `Cert=`): `+` stays `+` (it is base64, not a form-encoded space).
 *
 * @throws CertboundError `ERR_FORWARDED_CERT_MALFORMED`
 */
export function percentDecoded(text: string, header: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw malformedHeader(header, 'a value has a malformed percent-encoding');
  }
}
