import { request } from 'node:http';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import {
  startOutboundListener,
  type OutboundListener,
} from '../../src/sidecar/outbound/outbound-proxy.js';
import { createTokenClient, type TokenClient } from '../../src/token/index.js';
import { startAuthorizationServer } from '../../devstack/authorization-server.js';
import { PAYMENTS, sourceOf, type AsFixture } from '../support/as.js';
import { createTestPki } from '../support/pki.js';
import {
  startDpopResourceServer,
  type DpopResourceServer,
} from '../support/dpop-resource-server.js';

function call(
  listener: OutboundListener,
  path: string,
  method = 'GET',
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: listener.host, port: listener.port, path, method, headers },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('outbound proof: dpop against oidc-provider with DPoP nonces required', () => {
  let fx: AsFixture;
  let rs: DpopResourceServer;
  let tokens: TokenClient;
  let listener: OutboundListener;
  const source = { current: undefined as unknown as ReturnType<typeof sourceOf> };

  beforeAll(async () => {
    const pki = await createTestPki(['orders', 'partner']);
    const as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [
        // DPoP instead of certificate binding (oidc-provider binds to one mechanism).
        {
          clientId: 'orders',
          spiffeId: pki.workloads['orders']!.spiffeId,
          bound: false,
          dpopBound: true,
        },
      ],
      resources: [{ indicator: PAYMENTS, scopes: ['payments:read'], ttlSec: 300 }],
      // RFC 9449 §8: every proof at the token endpoint must carry the AS's nonce.
      dpop: { requireNonce: true },
      mtlsEndpointAliases: false,
    });
    fx = {
      pki,
      as,
      close: async () => {
        await as.close();
        await pki.cleanup();
      },
    };
    rs = await startDpopResourceServer(fx.pki.workloads['partner']!);
    source.current = sourceOf(fx.pki.workloads['orders']!);
    tokens = await createTokenClient({
      source: source.current,
      clientId: 'orders',
      issuer: fx.as.issuer,
    });
    listener = await startOutboundListener({
      source: source.current,
      tokens,
      upstreams: [
        {
          name: 'partner',
          url: rs.url,
          resource: PAYMENTS,
          scope: 'payments:read',
          spiffeId: fx.pki.workloads['partner']!.spiffeId,
          proof: 'dpop',
        },
      ],
      logger: silentLogger(),
    });
  });
  afterAll(async () => {
    await listener?.drain(0);
    await tokens?.close();
    await source.current?.close();
    await rs?.close();
    await fx?.close();
  });

  it('calls succeed with a DPoP-bound token (cnf.jkt), after one nonce round trip at the AS and at the upstream', async () => {
    fx.as.resetCounts();
    for (let i = 0; i < 4; i++) {
      const res = await call(listener, `/partner/accounts/${i}?q=${i}`);
      expect([res.status, res.body]).toEqual([
        200,
        JSON.stringify({ path: `/accounts/${i}?q=${i}` }),
      ]);
    }
    const posted = await call(listener, '/partner/transfers', 'POST', '{"amount":1}', {
      'content-type': 'application/json',
    });
    expect(posted.status).toBe(200);
    expect(rs.bodies.at(-1)).toBe('{"amount":1}');
    // The AS answered use_dpop_nonce once, then issued one token, cached for every call.
    expect(fx.as.requestCounts.token).toBe(2);
    const token = await tokens.get({ resource: PAYMENTS, scope: 'payments:read', proof: 'dpop' });
    expect(token.tokenType).toBe('DPoP');
    const cnf = decodeJwt(token.accessToken)['cnf'] as Record<string, unknown>;
    expect(cnf).toEqual({ jkt: token.dpop!.jkt });
    // The upstream asked for its nonce once; every later proof carried it and was accepted.
    expect(rs.proofs.map((p) => p.outcome)).toEqual([
      'use_dpop_nonce',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
    for (const p of rs.proofs) expect(p.jkt).toBe(token.dpop!.jkt);
    expect(rs.proofs.at(-1)!.htm).toBe('POST');
  });

  it('never reuses a proof: every request, retries included, has its own jti', async () => {
    rs.rotateNonce();
    const before = rs.proofs.length;
    const res = await call(listener, '/partner/after-rotation');
    expect(res.status).toBe(200);
    // The stale nonce got one use_dpop_nonce, the retry with the new nonce passed.
    expect(rs.proofs.slice(before).map((p) => p.outcome)).toEqual(['use_dpop_nonce', 'ok']);
    const jtis = rs.proofs.map((p) => p.jti);
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('keeps the mTLS token cache apart: the DPoP token is not handed out for an mTLS request', async () => {
    const dpop = await tokens.get({ resource: PAYMENTS, scope: 'payments:read', proof: 'dpop' });
    // The client is registered for DPoP only (dpop_bound_access_tokens): an mTLS request fails.
    await expect(tokens.get({ resource: PAYMENTS, scope: 'payments:read' })).rejects.toThrow();
    expect(dpop.tokenType).toBe('DPoP');
  });
});
