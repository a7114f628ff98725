import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelCredentials, status } from '@grpc/grpc-js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import {
  boundTokenClientInterceptor,
  boundTokenServerInterceptor,
  channelCredentialsFrom,
  errorCodeOfDetails,
  serverCredentialsFrom,
} from '../../src/grpc/index.js';
import { CertboundError } from '../../src/errors.js';
import type { TokenProvider } from '../../src/token/access-token.js';
import { createTestPki, type TestPki, type TestWorkload } from '../support/pki.js';
import {
  AUDIENCE,
  ISSUER,
  bidi,
  clientStream,
  createTokenMinter,
  unaryMetadata,
  echoClient,
  metadataOf,
  serverStream,
  startEchoServer,
  unary,
  type EchoClient,
  type EchoServer,
  type TokenMinter,
} from '../support/grpc-echo.js';

const sourceOf = (w: TestWorkload) =>
  StaticX509Source.create({ certPem: w.certPem, keyPem: w.keyPem, bundlePem: w.bundlePem });

let pki: TestPki;
let minter: TokenMinter;
let verifier: Verifier;
let server: EchoServer;
let orders: EchoClient;
let attacker: EchoClient;
const rejected: string[] = [];
const sources: StaticX509Source[] = [];
const clients: EchoClient[] = [];

beforeAll(async () => {
  pki = await createTestPki(['orders', 'payments', 'attacker']);
  minter = await createTokenMinter();
  verifier = createVerifier({ jwks: { keys: minter.jwks }, issuer: ISSUER, audience: AUDIENCE });
  const payments = sourceOf(pki.workloads['payments']!);
  const ordersSource = sourceOf(pki.workloads['orders']!);
  const attackerSource = sourceOf(pki.workloads['attacker']!);
  sources.push(payments, ordersSource, attackerSource);
  server = await startEchoServer({
    credentials: serverCredentialsFrom(payments),
    interceptors: [
      boundTokenServerInterceptor(verifier, {
        policies: [
          { prefix: '/demo.v1.Echo/', scopes: ['echo'] },
          { prefix: '/demo.v1.Echo/Bidi', scopes: ['echo'], clientIds: ['orders'] },
        ],
        onReject: (err) => rejected.push(err.code),
      }),
    ],
  });
  orders = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(ordersSource));
  attacker = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(attackerSource));
  clients.push(orders, attacker);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.close();
  await verifier?.close();
  for (const s of sources) await s.close();
  await pki?.cleanup();
});

const bearer = (token: string) => metadataOf({ authorization: `Bearer ${token}` });

describe('boundTokenServerInterceptor (grpc-js over mTLS)', () => {
  it('settles x-fapi-interaction-id: echoed on served and refused calls, passed to the handler', async () => {
    const id = '4e3d2c1b-0a9f-4e8d-9c7b-6a5f4e3d2c1b';
    const token = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const served = await unaryMetadata(
      orders,
      metadataOf({ authorization: `Bearer ${token}`, 'x-fapi-interaction-id': id }),
    );
    expect(served.ok).toBe(true);
    expect(served.headers?.get('x-fapi-interaction-id')).toEqual([id]);
    expect(server.seen.at(-1)!.interactionId).toBe(id);
    const refused = await unaryMetadata(attacker, metadataOf({ 'x-fapi-interaction-id': id }));
    expect(refused.ok).toBe(false);
    expect(refused.status?.get('x-fapi-interaction-id')).toEqual([id]);
    const replaced = await unaryMetadata(
      orders,
      metadataOf({ authorization: `Bearer ${token}`, 'x-fapi-interaction-id': 'bad' }),
    );
    const fresh = replaced.headers?.get('x-fapi-interaction-id')[0];
    expect(fresh).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(server.seen.at(-1)!.interactionId).toBe(fresh);
  });

  it('lets a call with a token bound to the connection certificate reach the handler with its Principal', async () => {
    const token = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const before = server.seen.length;
    const out = await unary(orders, { message: 'hi' }, bearer(token));
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.res).toMatchObject({
      message: 'hi',
      client_id: 'orders',
      spiffe_id: pki.workloads['orders']!.spiffeId,
    });
    const seen = server.seen[before]!;
    expect(server.seen.length).toBe(before + 1);
    expect(seen.principal?.thumbprint).toBe(pki.workloads['orders']!.thumbprint);
    expect(seen.principal?.scopes).toEqual(['echo']);
    expect(seen.identityMetadata).toMatchObject({
      'x-certbound-client-id': 'orders',
      'x-certbound-cert-thumbprint': pki.workloads['orders']!.thumbprint,
      'x-certbound-spiffe-id': pki.workloads['orders']!.spiffeId,
      'x-certbound-scope': 'echo',
    });
  });

  it('refuses a token bound to another valid certificate with UNAUTHENTICATED ERR_BINDING_MISMATCH', async () => {
    // The attacker replays orders' token from its own (valid, same-CA) certificate.
    const stolen = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const before = server.seen.length;
    const out = await unary(attacker, { message: 'steal' }, bearer(stolen));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAUTHENTICATED);
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_BINDING_MISMATCH');
    expect(out.err.details).not.toContain(stolen);
    expect(server.seen.length).toBe(before);
  });

  it.each([
    ['no authorization metadata', {}, 'ERR_TOKEN_MISSING', status.UNAUTHENTICATED],
    [
      'a malformed token',
      { authorization: 'Bearer not-a.jwt' },
      'ERR_TOKEN_MALFORMED',
      status.UNAUTHENTICATED,
    ],
    [
      'another scheme',
      { authorization: 'Basic b3JkZXJzOnB3' },
      'ERR_INVALID_REQUEST',
      status.UNAUTHENTICATED,
    ],
    [
      'two tokens in one value',
      { authorization: 'Bearer a.b.c, Bearer d.e.f' },
      'ERR_INVALID_REQUEST',
      status.UNAUTHENTICATED,
    ],
  ] as const)('refuses %s before the handler runs', async (_name, md, code, grpcCode) => {
    const before = server.seen.length;
    const out = await unary(orders, { message: 'x' }, metadataOf(md));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code, out.err.details).toBe(grpcCode);
    expect(errorCodeOfDetails(out.err.details)).toBe(code);
    expect(server.seen.length).toBe(before);
  });

  it('refuses an expired token with ERR_TOKEN_EXPIRED', async () => {
    const expired = await minter.mint({
      thumbprint: pki.workloads['orders']!.thumbprint,
      expiresInSec: -120,
    });
    const out = await unary(orders, { message: 'x' }, bearer(expired));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAUTHENTICATED);
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_TOKEN_EXPIRED');
  });

  it('refuses an unbound token with ERR_CNF_MISSING', async () => {
    const unbound = await minter.mint({});
    const out = await unary(orders, { message: 'x' }, bearer(unbound));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_CNF_MISSING');
  });

  it('answers PERMISSION_DENIED for a policy refusal (scope, client id)', async () => {
    const noScope = await minter.mint({
      thumbprint: pki.workloads['orders']!.thumbprint,
      scope: 'other',
    });
    const a = await unary(orders, { message: 'x' }, bearer(noScope));
    expect(a.ok).toBe(false);
    if (a.ok) return;
    expect(a.err.code).toBe(status.PERMISSION_DENIED);
    expect(errorCodeOfDetails(a.err.details)).toBe('ERR_INSUFFICIENT_SCOPE');

    const wrongClient = await minter.mint({
      thumbprint: pki.workloads['orders']!.thumbprint,
      clientId: 'billing',
    });
    const b = await bidi(orders, ['x'], bearer(wrongClient));
    expect(b.err?.code).toBe(status.PERMISSION_DENIED);
    expect(errorCodeOfDetails(b.err?.details ?? '')).toBe('ERR_POLICY_DENIED');
    expect(b.responses).toEqual([]);
  });

  it('never lets client-supplied x-certbound-* metadata reach the handler', async () => {
    const token = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const before = server.seen.length;
    const md = metadataOf({
      authorization: `Bearer ${token}`,
      'x-certbound-client-id': 'admin',
      'x-certbound-spiffe-id': 'spiffe://demo.local/ns/default/sa/admin',
      'x-certbound-role': 'root',
      'X-Certbound-Scope': 'everything',
    });
    const out = await unary(orders, { message: 'x' }, md);
    expect(out.ok).toBe(true);
    const seen = server.seen[before]!;
    expect(seen.identityMetadata['x-certbound-client-id']).toBe('orders');
    expect(seen.identityMetadata['x-certbound-spiffe-id']).toBe(pki.workloads['orders']!.spiffeId);
    expect(seen.identityMetadata['x-certbound-scope']).toBe('echo');
    expect(seen.identityMetadata).not.toHaveProperty('x-certbound-role');
  });

  describe.each(['ServerStream', 'ClientStream', 'Bidi'] as const)('%s calls', (kind) => {
    const run = (client: EchoClient, token: string) => {
      const md = bearer(token);
      if (kind === 'ServerStream') return serverStream(client, { message: 's', count: 3 }, md);
      if (kind === 'ClientStream')
        return clientStream(client, ['a', 'b', 'c'], md).then((o) =>
          o.ok ? { responses: [o.res] } : { responses: [], err: o.err },
        );
      return bidi(client, ['a', 'b', 'c'], md);
    };

    it('succeed with a bound token and see the Principal', async () => {
      const token = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
      const before = server.seen.length;
      const out = await run(orders, token);
      expect(out.err).toBeUndefined();
      expect(out.responses.length).toBe(kind === 'ClientStream' ? 1 : 3);
      expect(out.responses.every((r) => r.client_id === 'orders')).toBe(true);
      expect(server.seen[before]?.method).toBe(kind);
      expect(server.seen[before]?.principal?.thumbprint).toBe(pki.workloads['orders']!.thumbprint);
    });

    it('fail with ERR_BINDING_MISMATCH for a replayed token, handler never runs', async () => {
      const stolen = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
      const before = server.seen.length;
      const out = await run(attacker, stolen);
      expect(out.err?.code).toBe(status.UNAUTHENTICATED);
      expect(errorCodeOfDetails(out.err?.details ?? '')).toBe('ERR_BINDING_MISMATCH');
      expect(out.responses).toEqual([]);
      expect(server.seen.length).toBe(before);
    });
  });

  it('requires a client certificate at the TLS layer', async () => {
    const noCert = echoClient(
      `127.0.0.1:${server.port}`,
      ChannelCredentials.createSsl(Buffer.from(pki.workloads['orders']!.bundlePem)),
    );
    clients.push(noCert);
    const token = await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });
    const before = server.seen.length;
    const out = await unary(noCert, { message: 'x' }, bearer(token), 5_000);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAVAILABLE);
    expect(server.seen.length).toBe(before);
  });

  it('reports every refusal through onReject with its stable code', () => {
    expect(rejected).toContain('ERR_BINDING_MISMATCH');
    expect(rejected).toContain('ERR_TOKEN_MISSING');
  });
});

describe('boundTokenClientInterceptor', () => {
  it('attaches the token of the provider as authorization: Bearer', async () => {
    const requests: unknown[] = [];
    const provider: TokenProvider = {
      async get(request) {
        requests.push(request);
        return {
          accessToken: await minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint }),
          tokenType: 'Bearer',
          expiresAt: new Date(Date.now() + 300_000),
          thumbprint: pki.workloads['orders']!.thumbprint,
        };
      },
    };
    const client = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(sources[1]!), [
      boundTokenClientInterceptor(provider, { audience: AUDIENCE, scope: 'echo' }),
    ]);
    clients.push(client);
    const out = await unary(client, { message: 'with-interceptor' });
    expect(out.ok).toBe(true);
    const streamed = await bidi(client, ['a', 'b']);
    expect(streamed.responses.length).toBe(2);
    expect(requests).toEqual([
      { audience: AUDIENCE, scope: 'echo' },
      { audience: AUDIENCE, scope: 'echo' },
    ]);
  });

  it('fails the call with UNAVAILABLE ERR_AS_UNAVAILABLE when no token can be had, sending nothing', async () => {
    const provider: TokenProvider = {
      get: () => Promise.reject(new CertboundError('ERR_AS_UNAVAILABLE')),
    };
    const client = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(sources[1]!), [
      boundTokenClientInterceptor(provider, { audience: AUDIENCE }),
    ]);
    clients.push(client);
    const before = server.seen.length;
    const out = await unary(client, { message: 'x' });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAVAILABLE);
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_AS_UNAVAILABLE');
    const streamed = await bidi(client, ['a']);
    expect(streamed.err?.code).toBe(status.UNAVAILABLE);
    expect(server.seen.length).toBe(before);
  });
});

describe('identity metadata values (regression: unsafe claim values were silently dropped)', () => {
  it.each([
    ['CR LF in the client id', 'orders\r\nx-certbound-client-id: admin', 'ERR_CLAIM_UNSAFE'],
    ['a NUL in the client id', 'orders\u0000', 'ERR_CLAIM_UNSAFE'],
    ['a non-ASCII client id', 'Zoë', 'ERR_CLAIM_NON_ASCII'],
  ])(
    '%s: refused with UNAUTHENTICATED %s, the handler never runs',
    async (_name, clientId, code) => {
      const token = await minter.mint({
        thumbprint: pki.workloads['orders']!.thumbprint,
        clientId,
      });
      const before = server.seen.length;
      const out = await unary(orders, { message: 'x' }, bearer(token));
      expect(out.ok).toBe(false);
      if (out.ok) return;
      expect(out.err.code).toBe(status.UNAUTHENTICATED);
      expect(errorCodeOfDetails(out.err.details)).toBe(code);
      expect(server.seen.length).toBe(before);
    },
  );
});
