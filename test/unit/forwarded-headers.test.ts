import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCertboundError } from '../../src/errors.js';
import { base64DerFormat } from '../../src/verify/forwarded/base64-der-header.js';
import { escapedPemFormat } from '../../src/verify/forwarded/escaped-pem-header.js';
import { rfc9440Format } from '../../src/verify/forwarded/rfc9440-header.js';
import { parseXfcc, xfccFormat } from '../../src/verify/forwarded/xfcc-header.js';
import { encode } from '../support/forwarded-cert.js';
import { createTestPki, type TestPki } from '../support/pki.js';

let pki: TestPki;
let orders: string;
let payments: string;

beforeAll(async () => {
  pki = await createTestPki(['orders', 'payments']);
  orders = pki.workloads['orders']!.certPem;
  payments = pki.workloads['payments']!.certPem;
});
afterAll(() => pki?.cleanup());

/** The code and reason a parse is refused with. */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    if (isCertboundError(err)) return err.code;
    throw err;
  }
  return 'accepted';
}

const thumb = (c: X509Certificate): string => c.fingerprint256;
const x509 = (pem: string): X509Certificate => new X509Certificate(pem);

describe('Envoy x-forwarded-client-cert syntax (fixtures from Envoy docs, headers.rst)', () => {
  it('example 1: one element with a quoted Subject holding "=" and "/"', () => {
    const [e, ...rest] = parseXfcc(
      'By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com',
    );
    expect(rest).toEqual([]);
    expect(e!.get('by')).toEqual(['http://frontend.lyft.com']);
    expect(e!.get('hash')).toEqual([
      '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688',
    ]);
    expect(e!.get('subject')).toEqual(['/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client']);
    expect(e!.get('uri')).toEqual(['http://testclient.lyft.com']);
  });

  it('example 2: two elements, the second added by the nearer proxy', () => {
    const elements = parseXfcc(
      'By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com',
    );
    expect(elements.map((e) => e.get('by'))).toEqual([
      ['http://frontend.lyft.com'],
      ['http://backend.lyft.com'],
    ]);
    expect(elements[1]!.get('uri')).toEqual(['http://frontend.lyft.com']);
  });

  it('example 3: repeated DNS keys are kept in order', () => {
    const [e] = parseXfcc(
      'By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com',
    );
    expect(e!.get('dns')).toEqual(['lyft.com', 'www.lyft.com']);
  });

  it('quoted values keep their commas, semicolons, "=" and escaped quotes', () => {
    const elements = parseXfcc(
      'Hash=abc;Subject="CN=a \\"b\\",OU=x;y=z";URI=spiffe://d/a, By=spiffe://d/ingress;Subject="CN=c,O=d"',
    );
    expect(elements).toHaveLength(2);
    expect(elements[0]!.get('subject')).toEqual(['CN=a "b",OU=x;y=z']);
    expect(elements[1]!.get('subject')).toEqual(['CN=c,O=d']);
    expect(elements[1]!.get('by')).toEqual(['spiffe://d/ingress']);
  });

  it.each([
    ['an unterminated quote', 'Subject="CN=a,By=x'],
    ['a pair without "="', 'By=x;Hash'],
    ['an empty element', 'By=x,,By=y'],
    ['a trailing comma', 'By=x,'],
    ['a trailing semicolon', 'By=x;'],
    ['an empty key', '=x'],
    ['a key that is not letters', 'B-y=x'],
    ['text after a closing quote', 'Subject="a"b;By=x'],
    ['a quote inside an unquoted value', 'By=a"b'],
    ['a repeated By', 'By=x;By=y'],
    ['a repeated Cert', 'Cert=a;cert=b'],
    ['an empty header', ''],
  ])('refuses %s as malformed', (_what, value) => {
    expect(refusal(() => parseXfcc(value))).toBe('ERR_FORWARDED_CERT_MALFORMED');
  });
});

describe('Envoy XFCC certificates', () => {
  it('takes Cert= of the LAST element (the trusted hop), not an earlier one', () => {
    const header = [
      encode.xfccElement({ by: 'spiffe://demo.local/a', cert: payments }),
      encode.xfccElement({ by: 'spiffe://demo.local/b', cert: orders }),
    ].join(',');
    const chain = xfccFormat.parse([[header]]);
    expect(thumb(chain.leaf)).toBe(thumb(x509(orders)));
    expect(chain.by).toBe('spiffe://demo.local/b');
  });

  it('several field lines are one list of elements', () => {
    const chain = xfccFormat.parse([
      [encode.xfccElement({ cert: payments }), encode.xfccElement({ cert: orders })],
    ]);
    expect(thumb(chain.leaf)).toBe(thumb(x509(orders)));
  });

  it('Chain= gives the leaf first, then the intermediates', () => {
    const chain = xfccFormat.parse([[`Chain="${encodeURIComponent(orders + pki.ca.certPem)}"`]]);
    expect(thumb(chain.leaf)).toBe(thumb(x509(orders)));
    expect(chain.chain.map(thumb)).toEqual([thumb(x509(pki.ca.certPem))]);
  });

  it.each([
    ['a last element without Cert or Chain', () => `${encode.xfccElement({ cert: orders })},By=x`],
    [
      'a Hash that is not the certificate',
      () =>
        encode.xfccElement({ cert: orders }).replace(/Hash=[0-9a-f]+/, `Hash=${'0'.repeat(64)}`),
    ],
    [
      'a Chain that does not start with Cert',
      () => `Cert="${encodeURIComponent(orders)}";Chain="${encodeURIComponent(payments)}"`,
    ],
    ['two certificates in Cert', () => `Cert="${encodeURIComponent(orders + payments)}"`],
    ['a broken percent-encoding', () => `Cert="%E0%A4%A"`],
    ['a Cert that is not PEM', () => `Cert="${encodeURIComponent('hello')}"`],
  ])('refuses %s', (_what, value) => {
    expect(refusal(() => xfccFormat.parse([[value()]]))).toBe('ERR_FORWARDED_CERT_MALFORMED');
  });
});

describe('RFC 9440 Client-Cert / Client-Cert-Chain', () => {
  it('reads the byte sequence and the chain list (over several field lines)', () => {
    const chain = rfc9440Format.parse([
      [encode.rfc9440(orders)],
      [encode.rfc9440(pki.ca.certPem), encode.rfc9440(payments)],
    ]);
    expect(thumb(chain.leaf)).toBe(thumb(x509(orders)));
    expect(chain.chain).toHaveLength(2);
  });

  it('ignores parameters (RFC 8941 §3.1.2)', () => {
    const chain = rfc9440Format.parse([[`${encode.rfc9440(orders)};x=1`], []]);
    expect(thumb(chain.leaf)).toBe(thumb(x509(orders)));
  });

  const der = (pem: string) => Buffer.from(encode.base64Der(pem), 'base64');
  it.each([
    ['a token, not a byte sequence', () => [['abc'], []]],
    ['a string, not a byte sequence', () => [['"abc"'], []]],
    ['two Client-Cert values', () => [[encode.rfc9440(orders), encode.rfc9440(orders)], []]],
    ['invalid base64', () => [[':ab$c:'], []]],
    ['an empty byte sequence', () => [['::'], []]],
    ['bytes that are not a certificate', () => [[':aGVsbG8=:'], []]],
    [
      'a certificate with trailing bytes',
      () => [[`:${Buffer.concat([der(orders), Buffer.from([0])]).toString('base64')}:`], []],
    ],
    ['a chain without Client-Cert', () => [[], [encode.rfc9440(pki.ca.certPem)]]],
    ['a chain member that is an inner list', () => [[encode.rfc9440(orders)], ['(:YQ==:)']]],
    ['a chain that is not a list', () => [[encode.rfc9440(orders)], ['!!']]],
  ])('refuses %s', (_what, values) => {
    expect(refusal(() => rfc9440Format.parse(values()))).toBe('ERR_FORWARDED_CERT_MALFORMED');
  });
});

describe('nginx $ssl_client_escaped_cert and HAProxy base64 DER', () => {
  it('nginx: URL-encoded PEM under the configured name ("+" stays "+")', () => {
    const format = escapedPemFormat();
    expect(format.headerNames).toEqual(['ssl-client-cert']);
    expect(thumb(format.parse([[encode.escapedPem(orders)]]).leaf)).toBe(thumb(x509(orders)));
    // nginx escapes with its own table; base64 "+" and "/" may arrive unescaped.
    const raw = orders.replace(/\n/g, '%0A').replace(/ /g, '%20');
    expect(thumb(format.parse([[raw]]).leaf)).toBe(thumb(x509(orders)));
    expect(escapedPemFormat('x-client-pem').headerNames).toEqual(['x-client-pem']);
  });

  it('haproxy: base64 DER under the configured name', () => {
    const format = base64DerFormat();
    expect(format.headerNames).toEqual(['x-ssl-client-der']);
    expect(thumb(format.parse([[encode.base64Der(orders)]]).leaf)).toBe(thumb(x509(orders)));
  });

  it.each([
    ['nginx: a broken percent-encoding', () => escapedPemFormat().parse([['%zz']])],
    [
      'nginx: two certificates',
      () => escapedPemFormat().parse([[encode.escapedPem(orders + payments)]]),
    ],
    [
      'nginx: text around the PEM',
      () => escapedPemFormat().parse([[encode.escapedPem(`junk\n${orders}`)]]),
    ],
    [
      'nginx: two values',
      () => escapedPemFormat().parse([[encode.escapedPem(orders), encode.escapedPem(orders)]]),
    ],
    [
      'haproxy: base64 with a character node would skip',
      () =>
        base64DerFormat().parse([
          [`${encode.base64Der(orders).slice(0, 8)}*${encode.base64Der(orders).slice(8)}`],
        ]),
    ],
    [
      'haproxy: base64 with a space inside',
      () =>
        base64DerFormat().parse([
          [`${encode.base64Der(orders).slice(0, 8)} ${encode.base64Der(orders).slice(8)}`],
        ]),
    ],
    ['haproxy: base64 of something else', () => base64DerFormat().parse([['aGVsbG8=']])],
  ])('refuses %s', (_what, parse) => {
    expect(refusal(parse)).toBe('ERR_FORWARDED_CERT_MALFORMED');
  });
});
