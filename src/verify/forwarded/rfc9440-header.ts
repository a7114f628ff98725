import type { X509Certificate } from 'node:crypto';
import { parseItem, parseList, type Item, type List } from 'structured-headers';
import {
  certificateOfDer,
  malformedHeader,
  MAX_FORWARDED_CERTIFICATES,
  singleValueOf,
} from './forwarded-chain.js';
import type { ForwardedHeaderFormat } from './header-format.js';

const CERT = 'client-cert';
const CHAIN = 'client-cert-chain';

function certificateOfItem(item: Item, header: string): X509Certificate {
  const value = item[0];
  if (!(value instanceof ArrayBuffer))
    throw malformedHeader(header, 'a member is not a byte sequence');
  if (value.byteLength === 0) throw malformedHeader(header, 'a byte sequence is empty');
  return certificateOfDer(new Uint8Array(value), header);
}

/**
 * RFC 9440 §2: `Client-Cert` is an RFC 8941 Item whose value is a Byte Sequence (`:base64:`)
 * holding the DER of the client certificate; `Client-Cert-Chain` an RFC 8941 List of Byte
 * Sequences (the rest of the chain; several field lines combine into one list). Parsed with
 * `structured-headers`; parameters are ignored (RFC 8941 §3.1.2: unknown ones are).
 */
export const rfc9440Format: ForwardedHeaderFormat = {
  headerNames: [CERT, CHAIN],
  parse([certValues = [], chainValues = []]) {
    // RFC 9440 §2.3: Client-Cert-Chain is only sent with Client-Cert.
    if (certValues.length === 0) throw malformedHeader(CHAIN, 'it is sent without client-cert');
    const value = singleValueOf(certValues, CERT);
    let item: Item;
    try {
      item = parseItem(value);
    } catch {
      throw malformedHeader(CERT, 'it is not an RFC 8941 byte sequence item');
    }
    const leaf = certificateOfItem(item, CERT);
    const chain: X509Certificate[] = [];
    if (chainValues.length > 0) {
      let list: List;
      try {
        // RFC 9110 §5.3: field lines of a list combine with ", ".
        list = parseList(chainValues.join(', '));
      } catch {
        throw malformedHeader(CHAIN, 'it is not an RFC 8941 list');
      }
      if (list.length === 0) throw malformedHeader(CHAIN, 'it is empty');
      if (list.length >= MAX_FORWARDED_CERTIFICATES)
        throw malformedHeader(
          CHAIN,
          `it carries more than ${MAX_FORWARDED_CERTIFICATES - 1} certificates`,
        );
      for (const member of list) {
        if (Array.isArray(member[0])) throw malformedHeader(CHAIN, 'a member is an inner list');
        chain.push(certificateOfItem(member as Item, CHAIN));
      }
    }
    return { leaf, chain };
  },
};
