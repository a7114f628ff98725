import { describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { appRequestHeaders, type AppHeaderOptions } from '../../src/sidecar/forward-headers.js';
import { checkIdentityValues, type IdentityValues } from '../../src/verify/identity-claims.js';
import type { Principal } from '../../src/verify/principal.js';

const base: IdentityValues = {
  clientId: 'orders',
  subject: 'orders',
  scopes: ['payments:read', 'api://payments/.default'],
  spiffeId: 'spiffe://demo.local/ns/default/sa/orders',
};

function codeOf(values: Partial<IdentityValues>): string {
  try {
    checkIdentityValues({ ...base, ...values });
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('checkIdentityValues: values copied into identity headers arrive exactly as verified', () => {
  it('accepts ordinary identities', () => {
    expect(codeOf({})).toBe('ok');
    expect(codeOf({ subject: 'a b', clientId: undefined, spiffeId: undefined })).toBe('ok');
  });

  it.each([
    ['CR LF (header injection)', { subject: 'orders\r\nx-certbound-scope: admin' }],
    ['LF', { clientId: 'orders\nx' }],
    ['CR', { clientId: 'orders\rx' }],
    ['NUL', { subject: 'orders\u0000' }],
    ['TAB', { clientId: 'orders\tadmin' }],
    ['DEL', { spiffeId: 'spiffe://x/\u007f' }],
    ['a leading space', { clientId: ' orders' }],
    ['a trailing space', { subject: 'orders ' }],
    ['a space inside one scope', { scopes: ['payments:read admin'] }],
    ['a quote in a scope', { scopes: ['a"b'] }],
    ['a backslash in a scope', { scopes: ['a\\b'] }],
    ['an empty scope', { scopes: [''] }],
  ])('%s → ERR_CLAIM_UNSAFE', (_name, values) => {
    expect(codeOf(values)).toBe('ERR_CLAIM_UNSAFE');
  });

  it.each([
    ['Latin-1', { subject: 'Zoë' }],
    ['CJK', { subject: '支付' }],
    ['an emoji', { clientId: 'orders🙂' }],
    ['a C1 control', { subject: 'a\u0085b' }],
    ['a non-ASCII scope', { scopes: ['paiements:lecture-é'] }],
  ])('%s → ERR_CLAIM_NON_ASCII (never a 502 from the app client)', (_name, values) => {
    expect(codeOf(values)).toBe('ERR_CLAIM_NON_ASCII');
  });

  it('never echoes the value in the message', () => {
    try {
      checkIdentityValues({ ...base, subject: 'secret-ish\r\nvalue' });
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-ish');
    }
  });
});

const principal: Principal = {
  subject: 'orders',
  clientId: 'orders',
  scopes: ['payments:read'],
  audience: ['https://payments.test'],
  issuer: 'https://as.test',
  expiresAt: new Date(0),
  thumbprint: 'abc',
  spiffeId: 'spiffe://demo.local/ns/default/sa/orders',
  claims: {},
};
const facts = { remoteAddress: '127.0.0.1', host: 'localhost' };
const options: AppHeaderOptions = {
  keepAuthorization: false,
  identityHeaderPrefix: 'x-certbound-',
  stripHeaders: ['x-mesh-client-cert', 'x-legacy-id-*'],
};

describe('appRequestHeaders: what the app could take for something the sidecar vouched for', () => {
  it('strips identity-prefixed headers with "_" read as "-" (CGI, nginx)', () => {
    const out = appRequestHeaders(
      {
        x_certbound_client_id: 'admin',
        'x-certbound_scope': 'admin',
        'x_certbound-spiffe-id': 'spiffe://x/ops',
        'x-certbound-subject': 'admin',
        'x-other': 'kept',
      },
      principal,
      facts,
      options,
    );
    expect(
      Object.keys(out)
        .filter((n) => n.replaceAll('_', '-').startsWith('x-certbound-'))
        .sort(),
    ).toEqual([
      'x-certbound-cert-thumbprint',
      'x-certbound-client-id',
      'x-certbound-scope',
      'x-certbound-spiffe-id',
      'x-certbound-subject',
    ]);
    expect(out['x-certbound-client-id']).toBe('orders');
    expect(out['x-other']).toBe('kept');
  });

  it('strips certificate-forwarding headers (RFC 9440, XFCC, proxies) and the configured list', () => {
    const spoofed = [
      'client-cert',
      'client-cert-chain',
      'x-forwarded-client-cert',
      'x_forwarded_client_cert',
      'x-ssl-client-cert',
      'x-ssl-client-s-dn',
      'x-client-cert',
      'x-forwarded-tls-client-cert-info',
      'x-amzn-mtls-clientcert-leaf',
      'x-mesh-client-cert',
      'x-legacy-id-user',
    ];
    const out = appRequestHeaders(
      Object.fromEntries([...spoofed.map((n) => [n, 'spoof']), ['x-keep', 'yes']]),
      principal,
      facts,
      options,
    );
    for (const name of spoofed) expect(out[name], name).toBeUndefined();
    expect(out['x-keep']).toBe('yes');
  });

  it('refuses to write an unsafe identity value (the one place identity headers are written)', () => {
    expect(() =>
      appRequestHeaders({}, { ...principal, subject: 'a\r\nb: c' }, facts, options),
    ).toThrow(expect.objectContaining({ code: 'ERR_CLAIM_UNSAFE' }));
  });

  it("writes its own upgrade headers for a WebSocket, never the client's (h2c, HTTP2-Settings)", () => {
    const out = appRequestHeaders(
      {
        connection: 'Upgrade, HTTP2-Settings, x-certbound-fake',
        upgrade: 'websocket, h2c',
        'http2-settings': 'AAMAAABk',
        'sec-websocket-key': 'k',
      },
      principal,
      facts,
      { ...options, upgrade: true },
    );
    expect(out['connection']).toBe('upgrade');
    expect(out['upgrade']).toBe('websocket');
    expect(out['http2-settings']).toBeUndefined();
    expect(out['sec-websocket-key']).toBe('k');
  });
});
