import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerIdentity } from '../../src/binding/peer-identity.js';
import { isCertboundError } from '../../src/errors.js';
import {
  createForwardedCertificates,
  type ForwardedCertificateOptions,
  type UntrustedForwarding,
} from '../../src/verify/forwarded/index.js';
import {
  encode,
  mintForwardedFixtures,
  type ForwardedFixtures,
} from '../support/forwarded-cert.js';
import { createTestPki, type TestPki, type TestWorkload } from '../support/pki.js';

let pki: TestPki;
let other: TestPki;
let fx: ForwardedFixtures;
let anchors: readonly X509Certificate[];
let ingress: PeerIdentity;
let client: TestWorkload;

beforeAll(async () => {
  [pki, other] = await Promise.all([
    createTestPki(['orders', 'ingress']),
    createTestPki(['stranger']),
  ]);
  fx = await mintForwardedFixtures(pki);
  anchors = [new X509Certificate(pki.ca.certPem)];
  const w = pki.workloads['ingress']!;
  ingress = { thumbprint: w.thumbprint, spiffeId: w.spiffeId };
  client = pki.workloads['orders']!;
}, 60_000);
afterAll(() => Promise.all([pki?.cleanup(), other?.cleanup()]));

function forwarded(options: Partial<ForwardedCertificateOptions> = {}) {
  return createForwardedCertificates({
    format: 'nginx',
    trustedHops: { spiffeIds: [ingress.spiffeId!] },
    trustAnchors: () => anchors,
    ...options,
  });
}

/** A request with `headers` (lower-case names) over a connection from `peer`. */
function request(
  headers: Record<string, string | string[]>,
  peer: PeerIdentity | null = ingress,
  remoteAddress = '127.0.0.1',
) {
  return {
    peer,
    remoteAddress,
    header: (name: string): readonly string[] => {
      const v = headers[name];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    },
  };
}

function codeOf(run: () => unknown): string {
  try {
    const r = run() as { kind: string };
    return r.kind;
  } catch (err) {
    if (isCertboundError(err)) return err.code;
    throw err;
  }
}

const nginx = (w: TestWorkload) => ({ 'ssl-client-cert': encode.escapedPem(w.certPem) });

describe('createForwardedCertificates: which connections may forward', () => {
  it.each([
    ['rfc9440', (w: TestWorkload) => ({ 'client-cert': encode.rfc9440(w.certPem) })],
    [
      'xfcc',
      (w: TestWorkload) => ({
        'x-forwarded-client-cert': encode.xfccElement({ by: ingress.spiffeId, cert: w.certPem }),
      }),
    ],
    ['nginx', nginx],
    ['haproxy', (w: TestWorkload) => ({ 'x-ssl-client-der': encode.base64Der(w.certPem) })],
  ] as const)('%s: the forwarded leaf from a trusted hop is the client', (format, headers) => {
    const f = forwarded({ format });
    const r = f.resolve(request(headers(client)));
    expect(r).toEqual({
      kind: 'forwarded',
      client: { thumbprint: client.thumbprint, spiffeId: client.spiffeId },
      hop: ingress,
    });
  });

  it('headerNames are what each format reads (the transports strip them)', () => {
    expect(forwarded({ format: 'rfc9440' }).headerNames).toEqual([
      'client-cert',
      'client-cert-chain',
    ]);
    expect(forwarded({ format: 'xfcc' }).headerNames).toEqual(['x-forwarded-client-cert']);
    expect(forwarded().headerNames).toEqual(['ssl-client-cert']);
    expect(forwarded({ format: 'haproxy' }).headerNames).toEqual(['x-ssl-client-der']);
    expect(forwarded({ format: 'haproxy', header: 'x-client-der' }).headerNames).toEqual([
      'x-client-der',
    ]);
  });

  it('no header: none; a direct client sending it: untrusted, reported without the value', () => {
    const seen: UntrustedForwarding[] = [];
    const f = forwarded({ onUntrusted: (e) => seen.push(e) });
    expect(f.resolve(request({}))).toEqual({ kind: 'none' });
    const direct = { thumbprint: client.thumbprint, spiffeId: client.spiffeId };
    // The client forwards its own (or anyone's) certificate: never read from a non-hop.
    expect(f.resolve(request(nginx(client), direct))).toEqual({ kind: 'untrusted' });
    expect(f.resolve(request(nginx(client), null))).toEqual({ kind: 'untrusted' });
    expect(seen).toEqual([
      { headers: ['ssl-client-cert'], peer: direct, remoteAddress: '127.0.0.1' },
      { headers: ['ssl-client-cert'], peer: undefined, remoteAddress: '127.0.0.1' },
    ]);
    expect(JSON.stringify(seen)).not.toContain('BEGIN');
  });

  it('a malformed header from an untrusted peer is untrusted, not parsed', () => {
    expect(codeOf(() => forwarded().resolve(request({ 'ssl-client-cert': '%zz' }, null)))).toBe(
      'untrusted',
    );
  });

  it('trusts by thumbprint, and with addresses only from those addresses', () => {
    const byThumb = forwarded({ trustedHops: { thumbprints: [ingress.thumbprint] } });
    expect(byThumb.resolve(request(nginx(client), { thumbprint: ingress.thumbprint })).kind).toBe(
      'forwarded',
    );
    const f = forwarded({
      trustedHops: { spiffeIds: [ingress.spiffeId!], addresses: ['10.1.0.0/16', '::1'] },
    });
    expect(f.resolve(request(nginx(client), ingress, '10.1.2.3')).kind).toBe('forwarded');
    expect(f.resolve(request(nginx(client), ingress, '::ffff:10.1.2.3')).kind).toBe('forwarded');
    expect(f.resolve(request(nginx(client), ingress, '::1')).kind).toBe('forwarded');
    expect(f.resolve(request(nginx(client), ingress, '10.2.0.1')).kind).toBe('untrusted');
    expect(f.resolve(request(nginx(client), ingress, '127.0.0.1')).kind).toBe('untrusted');
    // The right address with another certificate is not a hop.
    expect(
      f.resolve(request(nginx(client), { thumbprint: client.thumbprint }, '10.1.2.3')).kind,
    ).toBe('untrusted');
  });

  it.each([
    ['no identity', { addresses: ['10.0.0.0/8'] }],
    ['a bad address', { spiffeIds: ['spiffe://x/y'], addresses: ['10.0.0.0/33'] }],
  ])('refuses an allow-list with %s (TypeError)', (_what, trustedHops) => {
    expect(() => forwarded({ trustedHops })).toThrow(TypeError);
  });

  it('refuses a header name with the fixed-name formats (TypeError)', () => {
    expect(() => forwarded({ format: 'rfc9440', header: 'x-cert' })).toThrow(TypeError);
  });
});

describe('the forwarded certificate is re-validated as if it came on the connection', () => {
  it.each([
    ['from another CA', () => other.workloads['stranger']!, 'ERR_FORWARDED_CERT_UNTRUSTED'],
    ['expired', () => fx.expired, 'ERR_FORWARDED_CERT_EXPIRED'],
    ['CA:TRUE', () => fx.caTrue, 'ERR_FORWARDED_CERT_NOT_LEAF'],
    ['RSA-1024', () => fx.weakKey, 'ERR_FORWARDED_CERT_WEAK_KEY'],
    ['serverAuth only', () => fx.serverOnly, 'ERR_FORWARDED_CERT_NOT_CLIENT'],
    ['an intermediate CA itself', () => fx.intermediate, 'ERR_FORWARDED_CERT_NOT_LEAF'],
  ])('refuses a forwarded certificate %s', (_what, cert, code) => {
    expect(codeOf(() => forwarded().resolve(request(nginx(cert()))))).toBe(code);
  });

  it('refuses a certificate that is not valid yet, and later accepts it', () => {
    let now = Date.now() - 86_400_000;
    const f = forwarded({ now: () => now });
    expect(codeOf(() => f.resolve(request(nginx(client))))).toBe('ERR_FORWARDED_CERT_EXPIRED');
    now = Date.now();
    expect(codeOf(() => f.resolve(request(nginx(client))))).toBe('forwarded');
  });

  it('a leaf under an intermediate needs the chain: RFC 9440 Client-Cert-Chain, XFCC Chain=', () => {
    const leaf = fx.underIntermediate.certPem;
    const mid = fx.intermediate.certPem;
    expect(codeOf(() => forwarded().resolve(request(nginx(fx.underIntermediate))))).toBe(
      'ERR_FORWARDED_CERT_UNTRUSTED',
    );
    const rfc = forwarded({ format: 'rfc9440' });
    expect(
      codeOf(() =>
        rfc.resolve(
          request({
            'client-cert': encode.rfc9440(leaf),
            'client-cert-chain': encode.rfc9440Chain([mid]),
          }),
        ),
      ),
    ).toBe('forwarded');
    const xfcc = forwarded({ format: 'xfcc' });
    expect(
      codeOf(() =>
        xfcc.resolve(
          request({
            'x-forwarded-client-cert': encode.xfccElement({ cert: leaf, chain: [leaf, mid] }),
          }),
        ),
      ),
    ).toBe('forwarded');
    // An intermediate from another PKI does not help.
    expect(
      codeOf(() =>
        rfc.resolve(
          request({
            'client-cert': encode.rfc9440(leaf),
            'client-cert-chain': encode.rfc9440Chain([other.ca.certPem]),
          }),
        ),
      ),
    ).toBe('ERR_FORWARDED_CERT_UNTRUSTED');
  });

  it('XFCC By= must name the hop when the hop has a SPIFFE ID', () => {
    const f = forwarded({ format: 'xfcc' });
    const header = (by: string) => ({
      'x-forwarded-client-cert': encode.xfccElement({ by, cert: client.certPem }),
    });
    expect(codeOf(() => f.resolve(request(header('spiffe://demo.local/ns/x/sa/other'))))).toBe(
      'ERR_FORWARDED_CERT_HOP_MISMATCH',
    );
    expect(codeOf(() => f.resolve(request(header(ingress.spiffeId!))))).toBe('forwarded');
  });

  it('a malformed header from the trusted hop is refused with its code', () => {
    expect(codeOf(() => forwarded().resolve(request({ 'ssl-client-cert': '%zz' })))).toBe(
      'ERR_FORWARDED_CERT_MALFORMED',
    );
  });
});

describe('parse + validation are cached per distinct header value', () => {
  it('one miss per value, hits after; a rotated bundle re-validates', () => {
    let bundle = anchors;
    const f = forwarded({ trustAnchors: () => bundle });
    for (let i = 0; i < 5; i++) expect(f.resolve(request(nginx(client))).kind).toBe('forwarded');
    expect(f.stats).toEqual({ hits: 4, misses: 1 });
    // Rotated to a bundle without our CA: the cached verdict is not reused.
    bundle = [new X509Certificate(other.ca.certPem)];
    expect(codeOf(() => f.resolve(request(nginx(client))))).toBe('ERR_FORWARDED_CERT_UNTRUSTED');
    expect(codeOf(() => f.resolve(request(nginx(client))))).toBe('ERR_FORWARDED_CERT_UNTRUSTED');
    expect(f.stats).toEqual({ hits: 5, misses: 2 });
    bundle = [new X509Certificate(other.ca.certPem), ...anchors];
    expect(f.resolve(request(nginx(client))).kind).toBe('forwarded');
  });

  it('refusals are cached too (a hop repeating an expired certificate costs one validation), "not valid yet" is not', () => {
    const f = forwarded();
    for (let i = 0; i < 3; i++)
      expect(codeOf(() => f.resolve(request(nginx(fx.expired))))).toBe(
        'ERR_FORWARDED_CERT_EXPIRED',
      );
    expect(f.stats).toEqual({ hits: 2, misses: 1 });
    const early = forwarded({ now: () => Date.now() - 86_400_000 });
    for (let i = 0; i < 2; i++) codeOf(() => early.resolve(request(nginx(client))));
    expect(early.stats).toEqual({ hits: 0, misses: 2 });
  });

  it('a cached verdict is not used past the end of the validity window', () => {
    let now = Date.now();
    const f = forwarded({ now: () => now });
    expect(f.resolve(request(nginx(client))).kind).toBe('forwarded');
    now += 2 * 86_400_000; // the dev CA issues 24 h leaves
    expect(codeOf(() => f.resolve(request(nginx(client))))).toBe('ERR_FORWARDED_CERT_EXPIRED');
  });

  it('is bounded: the least recently used value is evicted', () => {
    const f = forwarded({ cacheSize: 1 });
    const other2 = pki.workloads['ingress']!;
    f.resolve(request(nginx(client)));
    f.resolve(request(nginx(other2)));
    f.resolve(request(nginx(client)));
    expect(f.stats).toEqual({ hits: 0, misses: 3 });
  });

  it('a value hit since the last eviction gets a second chance (the idle one goes)', () => {
    const f = forwarded({ cacheSize: 2 });
    const [a, b, c] = [client, pki.workloads['ingress']!, fx.underIntermediate];
    f.resolve(request(nginx(a)));
    f.resolve(request(nginx(b)));
    f.resolve(request(nginx(a))); // hit: a is in use
    codeOf(() => f.resolve(request(nginx(c)))); // miss: evicts b, not a
    f.resolve(request(nginx(a)));
    expect(f.stats).toEqual({ hits: 2, misses: 3 });
    f.resolve(request(nginx(b)));
    expect(f.stats).toEqual({ hits: 2, misses: 4 });
  });
});
