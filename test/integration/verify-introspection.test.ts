import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { peerIdentityOf } from '../../src/binding/peer-identity.js';
import { isCertboundError, type CertboundError } from '../../src/errors.js';
import { MtlsAgents } from '../../src/token/mtls-agents.js';
import { createTokenClient, type TokenClient } from '../../src/token/index.js';
import { authorizeToken, type AuthorizationPipeline } from '../../src/verify/index.js';
import {
  createIntrospectionValidator,
  type IntrospectionValidator,
} from '../../src/verify/introspection-validator.js';
import type {
  IntrospectionOptions,
  IntrospectionResult,
} from '../../src/verify/introspection-options.js';
import { PAYMENTS, sourceOf } from '../support/as.js';
import { startJwksServer } from '../support/jwks-server.js';
import { createTestPki, type TestPki } from '../support/pki.js';

const RS_SECRET = 'rs-secret-for-tests-only-0123456789';

async function rejection(promise: Promise<unknown>): Promise<CertboundError> {
  try {
    await promise;
  } catch (err) {
    if (isCertboundError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('introspection validator against oidc-provider (opaque tokens bound to the certificate)', () => {
  let pki: TestPki;
  let as: DevAuthorizationServer;
  let agents: MtlsAgents;
  const closers: Array<() => Promise<void>> = [];
  let ordersTokens: TokenClient;
  let unboundTokens: TokenClient;
  // The validator's clock: moved forward to pass cache deadlines without waiting.
  let offsetMs = 0;
  const now = (): number => Date.now() + offsetMs;
  const results: IntrospectionResult[] = [];

  beforeAll(async () => {
    pki = await createTestPki(['orders', 'attacker', 'payments']);
    const w = pki.workloads;
    as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [
        { clientId: 'orders', spiffeId: w['orders']!.spiffeId },
        { clientId: 'unbound', spiffeId: w['orders']!.spiffeId, bound: false },
        { clientId: 'payments-rs', spiffeId: w['payments']!.spiffeId, introspector: true },
        { clientId: 'payments-rs-secret', secret: RS_SECRET, introspector: true },
        { clientId: 'stranger', spiffeId: w['attacker']!.spiffeId },
      ],
      resources: [
        { indicator: PAYMENTS, scopes: ['payments:read'], ttlSec: 300, format: 'opaque' },
      ],
    });
    agents = new MtlsAgents(undefined, 5_000);
    const tokenClient = async (clientId: string): Promise<TokenClient> => {
      const source = sourceOf(w['orders']!);
      const c = await createTokenClient({
        source,
        clientId,
        issuer: as.issuer,
        allowUnboundTokens: true,
      });
      closers.push(
        () => c.close(),
        () => source.close(),
      );
      return c;
    };
    ordersTokens = await tokenClient('orders');
    unboundTokens = await tokenClient('unbound');
  }, 30_000);

  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await agents?.close();
    await as?.close();
    await pki?.cleanup();
  });

  beforeEach(() => {
    offsetMs = 0;
    results.length = 0;
  });

  /** A validator for PAYMENTS that introspects as `payments-rs` with the payments certificate. */
  function validator(overrides: Partial<IntrospectionOptions> = {}): IntrospectionValidator {
    const identity = sourceOf(pki.workloads['payments']!);
    closers.push(() => identity.close());
    return createIntrospectionValidator({
      issuer: as.issuer,
      audience: PAYMENTS,
      endpoint: as.introspectionEndpoint,
      clientId: 'payments-rs',
      fetch: agents.fetchFor(identity.current()),
      now,
      onResult: (r) => results.push(r),
      ...overrides,
    });
  }

  function pipelineOf(v: IntrospectionValidator): AuthorizationPipeline {
    return {
      validatorFor: () => v,
      clockToleranceMs: 30_000,
      now,
      memo: new WeakMap(),
    };
  }

  async function freshToken(client = ordersTokens): Promise<string> {
    // Each test gets its own token: drop the client's cached one first.
    const request = { resource: PAYMENTS, scope: 'payments:read' };
    client.invalidate(request);
    return (await client.get(request)).accessToken;
  }

  const ordersPeer = () => peerIdentityOf(pki.workloads['orders']!.certPem);

  it('accepts an opaque token presented with the certificate it is bound to (cnf from introspection)', async () => {
    const token = await freshToken();
    expect(token.split('.')).toHaveLength(1);
    const principal = await authorizeToken(token, { peer: ordersPeer() }, pipelineOf(validator()));
    expect(principal.clientId).toBe('orders');
    expect(principal.issuer).toBe(as.issuer);
    expect(principal.validator).toBe('introspection');
    expect(principal.scopes).toEqual(['payments:read']);
    expect(principal.thumbprint).toBe(pki.workloads['orders']!.thumbprint);
    expect(principal.claims['cnf']).toEqual({ 'x5t#S256': pki.workloads['orders']!.thumbprint });
    expect(results).toEqual(['active']);
  });

  it('refuses the same token from another valid certificate with ERR_BINDING_MISMATCH', async () => {
    const token = await freshToken();
    const attacker = peerIdentityOf(pki.workloads['attacker']!.certPem);
    const err = await rejection(authorizeToken(token, { peer: attacker }, pipelineOf(validator())));
    expect(err.code).toBe('ERR_BINDING_MISMATCH');
  });

  it('refuses an active but unbound token with ERR_CNF_MISSING (the same mTLS proof step)', async () => {
    const token = await freshToken(unboundTokens);
    const err = await rejection(
      authorizeToken(token, { peer: ordersPeer() }, pipelineOf(validator())),
    );
    expect(err.code).toBe('ERR_CNF_MISSING');
  });

  it('refuses a revoked token once the cache deadline passes, on the same keep-alive connection too', async () => {
    const v = validator({ cacheMaxAgeMs: 2_000 });
    const pipeline = pipelineOf(v);
    const peer = ordersPeer();
    const token = await freshToken();
    await authorizeToken(token, { peer }, pipeline);
    await as.revokeToken(token);
    // Within the deadline the cached answer stands (and the connection memo serves it).
    await expect(authorizeToken(token, { peer }, pipeline)).resolves.toBeDefined();
    offsetMs = 2_001;
    const err = await rejection(authorizeToken(token, { peer }, pipeline));
    expect(err.code).toBe('ERR_TOKEN_INACTIVE');
    expect(err.mapping).toMatchObject({ http: 401, bearer: 'invalid_token', grpc: 16 });
    expect(results).toEqual(['active', 'inactive']);
  });

  it('caches an inactive answer briefly: a repeated bad token costs one call', async () => {
    const v = validator();
    as.resetCounts();
    for (let i = 0; i < 3; i++) {
      const err = await rejection(v.validate('not-a-token-the-as-issued'));
      expect(err.code).toBe('ERR_TOKEN_INACTIVE');
    }
    expect(as.requestCounts.introspection).toBe(1);
    offsetMs = 5_001;
    await rejection(v.validate('not-a-token-the-as-issued'));
    expect(as.requestCounts.introspection).toBe(2);
  });

  it('single-flight: concurrent first uses of one token cost one introspection call', async () => {
    const v = validator();
    const token = await freshToken();
    as.resetCounts();
    const all = await Promise.all(Array.from({ length: 8 }, () => v.validate(token)));
    expect(new Set(all.map((a) => a.claims)).size).toBe(1);
    expect(as.requestCounts.introspection).toBe(1);
    expect(v.cache.size).toBe(1);
  });

  it('AS down: a cached token keeps working, a new one gets 503 ERR_INTROSPECTION_UNAVAILABLE, readiness names the issuer', async () => {
    const v = validator();
    const cached = await freshToken();
    const fresh = await freshToken();
    await v.validate(cached);
    await as.stop();
    try {
      await expect(v.validate(cached)).resolves.toMatchObject({ validator: 'introspection' });
      const err = await rejection(v.validate(fresh));
      expect(err.code).toBe('ERR_INTROSPECTION_UNAVAILABLE');
      expect(err.mapping).toMatchObject({ http: 503, grpc: 14 });
      expect(err.message).toContain(as.issuer);
      expect(err.message).not.toContain(fresh);
      expect(v.ready()).toMatchObject({ ok: false });
      expect(v.ready().reason).toContain(as.issuer);
    } finally {
      await as.start();
    }
    // Without traffic (an unready pod gets none), the readiness probe finds the AS back.
    as.resetCounts();
    await vi.waitFor(() => expect(v.ready()).toEqual({ ok: true }), { timeout: 10_000 });
    expect(as.requestCounts.introspection).toBeGreaterThanOrEqual(1);
    await expect(v.validate(fresh)).resolves.toBeDefined();
  });

  it('refuses a token for another audience with ERR_TOKEN_AUDIENCE', async () => {
    const token = await freshToken();
    const err = await rejection(
      validator({ audience: 'https://other.demo.local' }).validate(token),
    );
    expect(err.code).toBe('ERR_TOKEN_AUDIENCE');
    expect(results).toEqual(['refused']);
  });

  it('a client that may not introspect others’ tokens gets active:false (ERR_TOKEN_INACTIVE)', async () => {
    const token = await freshToken();
    const attacker = sourceOf(pki.workloads['attacker']!);
    closers.push(() => attacker.close());
    // One agent set per identity, as the sidecar has.
    const strangerAgents = new MtlsAgents(undefined, 5_000);
    closers.push(() => strangerAgents.close());
    const v = validator({
      clientId: 'stranger',
      fetch: strangerAgents.fetchFor(attacker.current()),
    });
    const err = await rejection(v.validate(token));
    expect(err.code).toBe('ERR_TOKEN_INACTIVE');
  });

  it('authenticates with client_secret_basic when a secret is set', async () => {
    const token = await freshToken();
    const v = validator({ clientId: 'payments-rs-secret', clientSecret: RS_SECRET });
    await expect(v.validate(token)).resolves.toMatchObject({ validator: 'introspection' });
    const wrong = validator({ clientId: 'payments-rs-secret', clientSecret: 'wrong' });
    const err = await rejection(wrong.validate(token));
    expect(err.code).toBe('ERR_INTROSPECTION_UNAVAILABLE');
    expect(err.message).toContain('invalid_client');
  });

  describe('RFC 9701 JWT responses (jwtResponse)', () => {
    /**
     * The payments identity's fetch, recording the media type of every answer; `asJson`
     * drops the JWT `Accept`, as an AS (or a path) that ignores it would.
     */
    function recordingFetch(types: string[], asJson = false): IntrospectionOptions['fetch'] {
      const identity = sourceOf(pki.workloads['payments']!);
      // Own agent set: `validator()` builds its default fetch on the shared one afterwards.
      const own = new MtlsAgents(undefined, 5_000);
      closers.push(
        () => identity.close(),
        () => own.close(),
      );
      const base = own.fetchFor(identity.current());
      return async (url, init) => {
        const headers = new Headers(init.headers);
        if (asJson) headers.set('accept', 'application/json');
        const response = await base(url, { ...init, headers });
        types.push(response.headers.get('content-type') ?? '');
        return response;
      };
    }

    it('accepts a signed answer verified with the AS JWKS, and the binding is still checked', async () => {
      const types: string[] = [];
      const v = validator({
        fetch: recordingFetch(types),
        jwtResponse: { jwksUri: as.jwksUri },
      });
      const token = await freshToken();
      const principal = await authorizeToken(token, { peer: ordersPeer() }, pipelineOf(v));
      expect(principal.thumbprint).toBe(pki.workloads['orders']!.thumbprint);
      expect(types[0]).toMatch(/^application\/token-introspection\+jwt/);
      expect(types.length).toBe(2); // the answer, then the AS's JWKS
      const attacker = peerIdentityOf(pki.workloads['attacker']!.certPem);
      const err = await rejection(authorizeToken(token, { peer: attacker }, pipelineOf(v)));
      expect(err.code).toBe('ERR_BINDING_MISMATCH');
    });

    it('refuses a plain JSON answer when a signed one is required (ERR_INTROSPECTION_UNAVAILABLE)', async () => {
      const types: string[] = [];
      const v = validator({
        fetch: recordingFetch(types, true),
        jwtResponse: { jwksUri: as.jwksUri },
      });
      const token = await freshToken();
      const err = await rejection(v.validate(token));
      expect(err.code).toBe('ERR_INTROSPECTION_UNAVAILABLE');
      expect(err.message).toContain('not a signed JWT');
      expect(types).toEqual([expect.stringMatching(/^application\/json/)]);
      expect(results).toEqual(['unavailable']);
    });

    it('refuses an answer whose signature does not verify with the configured JWKS (same kid, another key)', async () => {
      const types: string[] = [];
      const fetch = recordingFetch(types);
      const asKeys = (await (await fetch!(as.jwksUri, {})).json()) as { keys: JWK[] };
      const { publicKey } = await generateKeyPair('ES256');
      const forged = { ...(await exportJWK(publicKey)), kid: asKeys.keys[0]!.kid, alg: 'ES256' };
      const jwks = await startJwksServer(pki.workloads['payments']!, [forged]);
      closers.push(() => jwks.close());
      const v = validator({
        fetch,
        jwtResponse: { jwksUri: jwks.url },
      });
      const token = await freshToken();
      const err = await rejection(v.validate(token));
      expect(err.code).toBe('ERR_INTROSPECTION_UNAVAILABLE');
      expect(err.message).not.toContain(token);
      expect(jwks.hits).toBe(1);
      expect(err.message).toContain('JWT signature verification failed');
    });
  });
});
