import { createHash, type X509Certificate } from 'node:crypto';
import {
  certificateOfDer,
  malformedHeader,
  MAX_FORWARDED_CERTIFICATES,
} from './forwarded-chain.js';
import type { ForwardedHeaderFormat } from './header-format.js';
import { percentDecoded, strictPemCertificates } from './pem-certificates.js';

const HEADER = 'x-forwarded-client-cert';
const KEY = /^[A-Za-z]+$/;
/** Keys that name one thing per element: a second one would make the element ambiguous. */
const SINGLE_KEYS = new Set(['by', 'hash', 'cert', 'chain', 'subject']);
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** One XFCC element: lower-case key → its values, in order. */
export type XfccElement = ReadonlyMap<string, readonly string[]>;

const isOws = (c: string | undefined): boolean => c === ' ' || c === '\t';

/**
 * Envoy's `x-forwarded-client-cert` syntax: elements separated by `,`, each `;`-separated
 * `key=value` pairs, keys case-insensitive; a value holding `,` `;` or `=` is double-quoted,
 * with `"` written `\"`. Strict: an unterminated quote, an empty pair or element, a key that
 * is not letters, a repeated `By`/`Hash`/`Cert`/`Chain`/`Subject`, or text after a closing
 * quote is malformed. Whitespace is allowed around elements only.
 *
 * @throws CertboundError `ERR_FORWARDED_CERT_MALFORMED`
 */
export function parseXfcc(value: string): XfccElement[] {
  const elements: XfccElement[] = [];
  let element = new Map<string, string[]>();
  let i = 0;
  const n = value.length;
  const fail = (reason: string): never => {
    throw malformedHeader(HEADER, reason);
  };
  for (;;) {
    if (element.size === 0) while (isOws(value[i])) i++;
    const eq = value.indexOf('=', i);
    if (eq < 0) fail('a pair has no "="');
    const key = value.slice(i, eq);
    if (!KEY.test(key)) fail('a key is empty or not letters');
    i = eq + 1;
    let text = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) fail('a quoted value is not terminated');
        const c = value[i] as string;
        if (c === '\\' && value[i + 1] === '"') {
          text += '"';
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          text += c;
          i++;
        }
      }
      while (isOws(value[i])) i++;
      if (i < n && value[i] !== ';' && value[i] !== ',') fail('text follows a quoted value');
    } else {
      const start = i;
      while (i < n && value[i] !== ';' && value[i] !== ',') i++;
      text = value.slice(start, i).replace(/[ \t]+$/, '');
      if (text.includes('"')) fail('an unquoted value holds a double quote');
    }
    const lower = key.toLowerCase();
    const values = element.get(lower);
    if (values !== undefined && SINGLE_KEYS.has(lower)) fail(`the key ${lower} is repeated`);
    if (values === undefined) element.set(lower, [text]);
    else values.push(text);
    if (i >= n) break;
    const separator = value[i];
    i++;
    if (separator === ',') {
      elements.push(element);
      element = new Map();
    }
    if (i >= n) fail('it ends with a separator');
  }
  elements.push(element);
  return elements;
}

function only(element: XfccElement, key: string): string | undefined {
  return element.get(key)?.[0];
}

function certificatesOf(encoded: string, max: number): X509Certificate[] {
  const pem = percentDecoded(encoded, HEADER);
  return strictPemCertificates(pem, HEADER, max).map((der) => certificateOfDer(der, HEADER));
}

/**
 * Envoy `x-forwarded-client-cert`: the LAST element is the one the nearest proxy (the
 * trusted hop) added (`forward_client_cert_details: APPEND_FORWARD` / `SANITIZE_SET`); its
 * `Cert=` (URL-encoded PEM) is the client certificate, `Chain=` (URL-encoded PEM, leaf
 * first) its chain. A `Hash=` must be the SHA-256 of that certificate. Elements from earlier
 * proxies are parsed (a malformed header is refused as a whole) but not used.
 */
export const xfccFormat: ForwardedHeaderFormat = {
  headerNames: [HEADER],
  parse([values = []]) {
    // RFC 9110 §5.3: field lines combine with ","; XFCC elements are ","-separated.
    const elements = parseXfcc(values.join(','));
    const nearest = elements[elements.length - 1] as XfccElement;
    const cert = only(nearest, 'cert');
    const chainValue = only(nearest, 'chain');
    if (cert === undefined && chainValue === undefined)
      throw malformedHeader(HEADER, 'its last element has no Cert or Chain');
    const chain =
      chainValue !== undefined ? certificatesOf(chainValue, MAX_FORWARDED_CERTIFICATES) : [];
    let leaf: X509Certificate;
    if (cert !== undefined) {
      const certs = certificatesOf(cert, 1);
      leaf = certs[0] as X509Certificate;
      if (chain.length > 0 && !(chain[0] as X509Certificate).raw.equals(leaf.raw))
        throw malformedHeader(HEADER, 'Chain does not start with Cert');
    } else {
      leaf = chain[0] as X509Certificate;
    }
    const hash = only(nearest, 'hash');
    if (hash !== undefined) {
      const digest = createHash('sha256').update(leaf.raw).digest('hex');
      if (!SHA256_HEX.test(hash) || hash.toLowerCase() !== digest)
        throw malformedHeader(HEADER, 'Hash is not the SHA-256 of Cert');
    }
    return { leaf, chain: chain.slice(1), by: only(nearest, 'by') };
  },
};
