import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { isCertboundError, type CertboundError } from '../../src/errors.js';
import { startAuthorizationServer } from '../../devstack/authorization-server.js';
import { createTokenClient, type TokenClient } from '../../src/token/index.js';
import { createVerifier } from '../../src/verify/index.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { jwksOf, PAYMENTS, sourceOf, startTestAs, type AsFixture } from '../support/as.js';

async function rejection(promise: Promise<unknown>): Promise<CertboundError> {
  try {
    await promise;
  } catch (err) {
    if (isCertboundError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('TokenClient against oidc-provider (tls_client_auth)', () => {
  let fx: AsFixture;
  const clients: TokenClient[] = [];
  const sources: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    // Client certificates only count at the RFC 8705 §5 alias, as on a separate mTLS host.
    fx = await startTestAs({ mtlsOnlyAtAliases: true });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(sources.map((s) => s.close()));
    await fx.close();
  });

  async function client(
    name = 'orders',
    options: Partial<Parameters<typeof createTokenClient>[0]> = {},
  ): Promise<TokenClient> {
    const source = sourceOf(fx.pki.workloads[name]!);
    sources.push(source);
    const c = await createTokenClient({
      source,
      clientId: 'orders',
      issuer: fx.as.issuer,
      ...options,
    });
    clients.push(c);
    return c;
  }

  it('gets a JWT whose cnf.x5t#S256 is our certificate thumbprint, via the mTLS alias', async () => {
    fx.as.resetCounts();
    const c = await client();
    expect(c.endpoints()?.tokenEndpoint).toBe(fx.as.mtlsTokenEndpoint);
    const token = await c.get({ resource: PAYMENTS, scope: 'payments:write' });
    const orders = fx.pki.workloads['orders']!;
    expect(token.thumbprint).toBe(orders.thumbprint);
    expect(token.tokenType).toBe('Bearer');
    const claims = decodeJwt(token.accessToken);
    expect(claims.cnf).toEqual({ 'x5t#S256': orders.thumbprint });
    expect(claims.aud).toBe(PAYMENTS);
    expect(claims.scope).toBe('payments:write');
    expect(decodeProtectedHeader(token.accessToken)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(token.expiresAt.getTime()).toBeLessThanOrEqual((claims.exp as number) * 1000);
    // Discovery once (RFC 8414 address answered), token requests only at the alias.
    expect(fx.as.requestCounts).toMatchObject({ discovery: 1, mtlsToken: 1, token: 0 });
    expect(c.stats().asRequests).toEqual({ discovery: 1, token: 1 });
  });

  it('maps audience to the resource indicator', async () => {
    const c = await client();
    const token = await c.get({ audience: PAYMENTS });
    expect(decodeJwt(token.accessToken).aud).toBe(PAYMENTS);
  });

  it('a client that ignores the alias is refused (the plain endpoint sees no certificate)', async () => {
    fx.as.resetCounts();
    const c = await client('orders', { issuer: undefined, tokenEndpoint: fx.as.tokenEndpoint });
    const err = await rejection(c.get({ resource: PAYMENTS }));
    expect(err.code).toBe('ERR_AS_ERROR');
    expect(err.details['error']).toBe('invalid_client');
    expect(fx.as.requestCounts).toMatchObject({ token: 1, mtlsToken: 0 });
  });

  it('repeated get: one AS request, then cache hits', async () => {
    fx.as.resetCounts();
    const c = await client();
    const first = await c.get({ resource: PAYMENTS, scope: 'payments:read payments:write' });
    for (let i = 0; i < 20; i++) {
      // Scope order and form do not matter (RFC 6749 §3.3).
      const again = await c.get({ resource: PAYMENTS, scope: ['payments:write', 'payments:read'] });
      expect(again).toBe(first);
    }
    expect(fx.as.requestCounts.mtlsToken).toBe(1);
    expect(c.stats()).toMatchObject({ hits: 20, misses: 1, asRequests: { token: 1 } });
    console.log('repeated get x21: AS token requests =', fx.as.requestCounts.mtlsToken);
  });

  it('50 concurrent get: one AS request (single-flight)', async () => {
    fx.as.resetCounts();
    const c = await client();
    const tokens = await Promise.all(
      Array.from({ length: 50 }, () => c.get({ resource: PAYMENTS, scope: 'payments:read' })),
    );
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(fx.as.requestCounts.mtlsToken).toBe(1);
    expect(c.stats().asRequests.token).toBe(1);
    console.log('50 concurrent get: AS token requests =', fx.as.requestCounts.mtlsToken);
  });

  it('different keys are different cache entries', async () => {
    const c = await client();
    const a = await c.get({ resource: PAYMENTS, scope: 'payments:read' });
    const b = await c.get({ resource: PAYMENTS, scope: 'payments:write' });
    expect(a.accessToken).not.toBe(b.accessToken);
    expect(c.stats()).toMatchObject({ cached: 2, asRequests: { token: 2 } });
  });

  it('AS error responses become ERR_AS_ERROR with the AS error code', async () => {
    const c = await client();
    const err = await rejection(c.get({ resource: 'https://unknown.demo.local' }));
    expect(err.code).toBe('ERR_AS_ERROR');
    expect(err.details['error']).toBe('invalid_target');
    expect(err.cause).toBeDefined();
  });

  it('an opaque token is refused unless allowUnboundTokens', async () => {
    const strict = await client();
    // No resource: oidc-provider issues an opaque token, whose binding cannot be read.
    const err = await rejection(strict.get({ scope: 'payments:read' }));
    expect(err.code).toBe('ERR_TOKEN_NOT_BOUND');
    const lax = await client('orders', { allowUnboundTokens: true });
    const opaque = await lax.get({ scope: 'payments:read' });
    expect(opaque.accessToken.split('.')).toHaveLength(1);
  });

  it('an AS not configured for certificate binding → ERR_TOKEN_NOT_BOUND (no opt-out for JWTs)', async () => {
    const c = await client('orders', { clientId: 'unbound', allowUnboundTokens: true });
    const err = await rejection(c.get({ resource: PAYMENTS }));
    expect(err.code).toBe('ERR_TOKEN_NOT_BOUND');
    expect(c.stats().cached).toBe(0);
  });

  it('wrong SAN (attacker cert for client orders) → invalid_client', async () => {
    const c = await client('attacker');
    const err = await rejection(c.get({ resource: PAYMENTS }));
    expect(err.code).toBe('ERR_AS_ERROR');
    expect(err.details['error']).toBe('invalid_client');
    expect(err.message).not.toContain('BEGIN');
  });

  describe('untrusted CA', () => {
    let other: TestPki;
    beforeAll(async () => {
      other = await createTestPki(['orders']);
    });
    afterAll(() => other.cleanup());

    it('a certificate with the right SPIFFE ID from another CA → invalid_client', async () => {
      const source = sourceOf(other.workloads['orders']!);
      sources.push(source);
      const c = await createTokenClient({
        source,
        clientId: 'orders',
        issuer: fx.as.issuer,
        ca: fx.pki.ca.certPem, // we trust the AS; the AS does not trust us
      });
      clients.push(c);
      const err = await rejection(c.get({ resource: PAYMENTS }));
      expect(err.code).toBe('ERR_AS_ERROR');
      expect(err.details['error']).toBe('invalid_client');
    });
  });

  it('a token verifies with createVerifier over the JWKS, bound to our cert only', async () => {
    const c = await client();
    const verifier = createVerifier({
      // No refetch cooldown: the key rotation below happens right after the first fetch.
      jwks: { url: fx.as.jwksUri, ca: fx.pki.ca.certPem, cooldownMs: 0 },
      issuer: fx.as.issuer,
      audience: PAYMENTS,
    });
    try {
      const token = await c.get({ resource: PAYMENTS, scope: 'payments:write' });
      const principal = await verifier.verify(
        token.accessToken,
        fx.pki.workloads['orders']!.certPem,
      );
      expect(principal).toBeDefined();
      const stolen = await rejection(
        verifier.verify(token.accessToken, fx.pki.workloads['attacker']!.certPem),
      );
      expect(stolen.code).toBe('ERR_BINDING_MISMATCH');

      // A new signing key (new kid) is picked up by the verifier after one JWKS refetch.
      const kid = decodeProtectedHeader(token.accessToken).kid;
      await fx.as.rotateSigningKey();
      c.invalidate();
      const next = await c.get({ resource: PAYMENTS, scope: 'payments:write' });
      expect(decodeProtectedHeader(next.accessToken).kid).not.toBe(kid);
      await expect(
        verifier.verify(next.accessToken, fx.pki.workloads['orders']!.certPem),
      ).resolves.toBeDefined();
    } finally {
      await verifier.close();
    }
  });
});

describe('TokenClient: self_signed_tls_client_auth', () => {
  let fx: AsFixture;
  let c: TokenClient | undefined;

  beforeAll(async () => {
    const pki = await createTestPki(['orders', 'attacker']);
    const orders = pki.workloads['orders']!;
    const as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [{ clientId: 'orders-self', jwks: jwksOf(orders) }],
      resources: [{ indicator: PAYMENTS, scopes: ['payments:read'] }],
    });
    fx = {
      pki,
      as,
      close: async () => {
        await as.close();
        await pki.cleanup();
      },
    };
  });
  afterAll(async () => {
    await c?.close();
    await fx.close();
  });

  it('a client registered by its JWKS (x5c) gets a token bound to that certificate', async () => {
    const orders = fx.pki.workloads['orders']!;
    const s = sourceOf(orders);
    c = await createTokenClient({
      source: s,
      clientId: 'orders-self',
      issuer: fx.as.issuer,
      authMethod: 'self_signed_tls_client_auth',
    });
    const token = await c.get({ resource: PAYMENTS });
    expect(decodeJwt(token.accessToken).cnf).toEqual({ 'x5t#S256': orders.thumbprint });
    // Another certificate is not the registered one.
    const other = await createTokenClient({
      source: sourceOf(fx.pki.workloads['attacker']!),
      clientId: 'orders-self',
      issuer: fx.as.issuer,
      authMethod: 'self_signed_tls_client_auth',
    });
    try {
      const err = await rejection(other.get({ resource: PAYMENTS }));
      expect(err.details['error']).toBe('invalid_client');
    } finally {
      await other.close();
      await s.close();
    }
  });
});
