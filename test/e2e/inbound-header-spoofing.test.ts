import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JWTPayload } from 'jose';
import { startRecordingApp, type RecordingApp } from '../support/http-fixtures.js';
import { startInboundSidecar, type InboundSidecar } from '../support/inbound-sidecar.js';
import { openRawHttp1, rawRequest, type RawResponse } from '../support/raw-http1.js';

let app: RecordingApp;
let sidecar: InboundSidecar;

beforeAll(async () => {
  app = await startRecordingApp();
  sidecar = await startInboundSidecar(app.url, '  stripHeaders: [x-mesh-client-cert]');
});

afterAll(async () => {
  await sidecar?.close();
  await app?.close();
});

beforeEach(() => {
  app.seen.length = 0;
});

async function exchange(headers: Record<string, string>, path = '/data'): Promise<RawResponse> {
  const conn = await openRawHttp1(sidecar.port, sidecar.orders);
  try {
    conn.write(rawRequest(`GET ${path}`, { host: 'localhost', ...headers }));
    const res = await conn.next();
    if (res === 'closed') throw new Error('connection closed without an answer');
    return res;
  } finally {
    conn.close();
  }
}

const errorOf = (res: RawResponse): [number, unknown] => [
  res.status,
  res.status === 200 ? 'ok' : (JSON.parse(res.body) as { error?: unknown }).error,
];

describe('certbound run: headers the app could mistake for something the sidecar vouched for', () => {
  it('identity spoofing: x_certbound_* (underscores read as dashes) never reaches the app', async () => {
    const res = await exchange({
      authorization: `Bearer ${await sidecar.token()}`,
      x_certbound_client_id: 'admin',
      'X_Certbound-Scope': 'admin',
      'x-certbound_spiffe_id': 'spiffe://demo.local/ns/default/sa/ops',
    });
    expect(res.status).toBe(200);
    const seen = app.seen[0]!.headers;
    expect(
      Object.keys(seen)
        .filter((n) => n.replaceAll('_', '-').startsWith('x-certbound-'))
        .sort(),
    ).toEqual([
      'x-certbound-cert-thumbprint',
      'x-certbound-client-id',
      'x-certbound-scope',
      'x-certbound-spiffe-id',
      'x-certbound-subject',
    ]);
    expect(seen['x-certbound-client-id']).toBe('orders');
  });

  it('certificate spoofing: client certificate forwarding headers (RFC 9440, XFCC, configured) are stripped', async () => {
    const res = await exchange({
      authorization: `Bearer ${await sidecar.token()}`,
      'Client-Cert': ':MIIBfake=:',
      'Client-Cert-Chain': ':MIIBfake=:, :MIIBfake=:',
      'X-Forwarded-Client-Cert': 'By=spiffe://x;Hash=abc;URI=spiffe://demo.local/ns/default/sa/ops',
      x_forwarded_client_cert: 'Hash=abc',
      'X-SSL-Client-Cert': '-----BEGIN%20CERTIFICATE-----',
      'x-mesh-client-cert': 'configured',
      'x-kept': 'yes',
    });
    expect(res.status).toBe(200);
    const seen = app.seen[0]!.headers;
    for (const name of [
      'client-cert',
      'client-cert-chain',
      'x-forwarded-client-cert',
      'x_forwarded_client_cert',
      'x-ssl-client-cert',
      'x-mesh-client-cert',
    ])
      expect(seen[name], name).toBeUndefined();
    expect(seen['x-kept']).toBe('yes');
  });

  const unsafe: Array<[string, JWTPayload, string]> = [
    ['CR LF in sub', { sub: 'orders\r\nx-certbound-scope: admin' }, 'ERR_CLAIM_UNSAFE'],
    ['LF in client_id', { client_id: 'orders\nx' }, 'ERR_CLAIM_UNSAFE'],
    ['NUL in sub', { sub: 'orders\u0000' }, 'ERR_CLAIM_UNSAFE'],
    ['DEL in scope', { scope: 'payments:read pay\u007fments' }, 'ERR_CLAIM_UNSAFE'],
    ['tab in client_id', { client_id: 'orders\tadmin' }, 'ERR_CLAIM_UNSAFE'],
    [
      'a space inside one scp entry',
      { scope: undefined, scp: ['payments:read admin'] },
      'ERR_CLAIM_UNSAFE',
    ],
    ['leading space in client_id', { client_id: ' orders' }, 'ERR_CLAIM_UNSAFE'],
    ['Latin-1 sub', { sub: 'Zoë' }, 'ERR_CLAIM_NON_ASCII'],
    ['CJK sub', { sub: '支付' }, 'ERR_CLAIM_NON_ASCII'],
    ['emoji client_id', { client_id: 'orders🙂' }, 'ERR_CLAIM_NON_ASCII'],
  ];

  it.each(unsafe)(
    'identity claim with %s → 401 %s, never 502; the app sees nothing',
    async (_n, claims, code) => {
      const res = await exchange({ authorization: `Bearer ${await sidecar.token(claims)}` });
      expect(errorOf(res)).toEqual([401, code]);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
      expect(app.seen).toEqual([]);
    },
  );

  it('100 Continue bypass: a refused client is not invited to upload its body', async () => {
    const conn = await openRawHttp1(sidecar.port, sidecar.orders);
    try {
      conn.write(
        rawRequest('POST /echo', {
          host: 'localhost',
          expect: '100-continue',
          'content-length': '5',
        }),
      );
      const res = await conn.next();
      expect(res !== 'closed' && errorOf(res)).toEqual([401, 'ERR_TOKEN_MISSING']);
    } finally {
      conn.close();
    }
    expect(app.seen).toEqual([]);
  });

  it('100 Continue is sent once the token was verified, and the body reaches the app', async () => {
    const conn = await openRawHttp1(sidecar.port, sidecar.orders);
    try {
      conn.write(
        rawRequest('POST /echo', {
          host: 'localhost',
          expect: '100-continue',
          'content-length': '5',
          authorization: `Bearer ${await sidecar.token()}`,
        }),
      );
      const interim = await conn.next();
      expect(interim !== 'closed' && interim.status).toBe(100);
      conn.write('hello');
      const res = await conn.next();
      expect(res !== 'closed' && [res.status, res.body]).toEqual([200, 'hello']);
    } finally {
      conn.close();
    }
    expect(app.seen.map((s) => s.body)).toEqual(['hello']);
  });
});
