import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  credentials as grpcCredentials,
  ServerCredentials,
  status,
  type Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { CertboundError } from '../../src/errors.js';
import { channelCredentialsFrom, errorCodeOfDetails } from '../../src/grpc/index.js';
import {
  createGrpcForwarder,
  type GrpcForwarder,
} from '../../src/sidecar/inbound/grpc-forwarder.js';
import {
  createGrpcOutboundForwarder,
  type GrpcOutboundForwarder,
} from '../../src/sidecar/outbound/grpc-outbound-forwarder.js';
import type { TokenProvider } from '../../src/token/access-token.js';
import { createTestPki, type TestPki, materialOf } from '../support/pki.js';
import {
  AUDIENCE,
  ISSUER,
  bidi,
  createTokenMinter,
  echoClient,
  metadataOf,
  serverStream,
  startEchoServer,
  unary,
  unaryMetadata,
  type EchoClient,
  type EchoServer,
  type TokenMinter,
} from '../support/grpc-echo.js';
import { startH2cFront, startMtlsFront } from '../support/grpc-front.js';

let pki: TestPki;
let minter: TokenMinter;
let verifier: Verifier;
let app: EchoServer;
let forwarder: GrpcForwarder;
let deadForwarder: GrpcForwarder;
let front: Awaited<ReturnType<typeof startMtlsFront>>;
let deadFront: Awaited<ReturnType<typeof startMtlsFront>>;
let orders: EchoClient;
let attacker: EchoClient;
const sources: StaticX509Source[] = [];
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  pki = await createTestPki(['orders', 'payments', 'attacker']);
  minter = await createTokenMinter();
  verifier = createVerifier({ jwks: { keys: minter.jwks }, issuer: ISSUER, audience: AUDIENCE });
  // The app: plain grpc-js on loopback, no interceptor — the sidecar protects it.
  app = await startEchoServer({ credentials: ServerCredentials.createInsecure() });
  forwarder = createGrpcForwarder({
    verifier,
    appUrl: `http://127.0.0.1:${app.port}`,
    policies: [{ prefix: '/demo.v1.Echo/', scopes: ['echo'] }],
  });
  front = await startMtlsFront(pki.workloads['payments']!, forwarder);
  deadForwarder = createGrpcForwarder({ verifier, appUrl: 'http://127.0.0.1:1' });
  deadFront = await startMtlsFront(pki.workloads['payments']!, deadForwarder);
  const ordersSource = StaticX509Source.create(materialOf(pki.workloads['orders']!));
  const attackerSource = StaticX509Source.create(materialOf(pki.workloads['attacker']!));
  sources.push(ordersSource, attackerSource);
  orders = echoClient(`127.0.0.1:${front.port}`, channelCredentialsFrom(ordersSource));
  attacker = echoClient(`127.0.0.1:${front.port}`, channelCredentialsFrom(attackerSource));
  closers.push(
    () => orders.close(),
    () => attacker.close(),
  );
});

afterAll(async () => {
  for (const close of closers) await close();
  await front?.close();
  await deadFront?.close();
  await forwarder?.close();
  await deadForwarder?.close();
  await app?.close();
  await verifier?.close();
  for (const s of sources) await s.close();
  await pki?.cleanup();
});

const ordersToken = () => minter.mint({ thumbprint: pki.workloads['orders']!.thumbprint });

describe('createGrpcForwarder (inbound gRPC through the sidecar)', () => {
  it('verifies the call and forwards it to the app with verified identity metadata only', async () => {
    const token = await ordersToken();
    const before = app.seen.length;
    const md = metadataOf({
      authorization: `Bearer ${token}`,
      'x-certbound-client-id': 'admin',
      'x-certbound-role': 'root',
      'x-request-id': 'r-1',
    });
    const out = await unary(orders, { message: 'through' }, md);
    expect(out.ok, out.ok ? '' : out.err.details).toBe(true);
    if (!out.ok) return;
    expect(out.res.message).toBe('through');
    const seen = app.seen[before]!;
    expect(seen.identityMetadata).toEqual({
      'x-certbound-subject': 'orders',
      'x-certbound-client-id': 'orders',
      'x-certbound-spiffe-id': pki.workloads['orders']!.spiffeId,
      'x-certbound-scope': 'echo',
      'x-certbound-cert-thumbprint': pki.workloads['orders']!.thumbprint,
    });
    expect(seen.hasAuthorization).toBe(false);
  });

  it('answers a stolen token with grpc-status 16 ERR_BINDING_MISMATCH; the app sees nothing', async () => {
    const stolen = await ordersToken();
    const before = app.seen.length;
    const out = await unary(
      attacker,
      { message: 'steal' },
      metadataOf({ authorization: `Bearer ${stolen}` }),
    );
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAUTHENTICATED);
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_BINDING_MISMATCH');
    expect(app.seen.length).toBe(before);
  });

  it('answers a call without a token with status 16 ERR_TOKEN_MISSING, and a policy refusal with 7', async () => {
    const missing = await unary(orders, { message: 'x' });
    expect(missing.ok).toBe(false);
    if (missing.ok) return;
    expect(missing.err.code).toBe(status.UNAUTHENTICATED);
    expect(errorCodeOfDetails(missing.err.details)).toBe('ERR_TOKEN_MISSING');

    const noScope = await minter.mint({
      thumbprint: pki.workloads['orders']!.thumbprint,
      scope: 'other',
    });
    const denied = await unary(
      orders,
      { message: 'x' },
      metadataOf({ authorization: `Bearer ${noScope}` }),
    );
    expect(denied.ok).toBe(false);
    if (denied.ok) return;
    expect(denied.err.code).toBe(status.PERMISSION_DENIED);
    expect(errorCodeOfDetails(denied.err.details)).toBe('ERR_INSUFFICIENT_SCOPE');
  });

  it('passes x-fapi-interaction-id to the app and echoes it on served and refused calls', async () => {
    const id = '7b1e2d3c-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
    const token = await ordersToken();
    const call = (md: Metadata) => unaryMetadata(orders, md);
    const served = await call(
      metadataOf({ authorization: `Bearer ${token}`, 'x-fapi-interaction-id': id }),
    );
    expect(served.ok).toBe(true);
    expect(served.headers?.get('x-fapi-interaction-id')).toEqual([id]);
    expect(app.seen.at(-1)!.interactionId).toBe(id);
    const refused = await call(metadataOf({ 'x-fapi-interaction-id': id }));
    expect(refused.ok).toBe(false);
    expect(refused.status?.get('x-fapi-interaction-id')).toEqual([id]);
    // Malformed: the app and the answer get one fresh UUID instead.
    const fresh = await call(
      metadataOf({ authorization: `Bearer ${token}`, 'x-fapi-interaction-id': 'nope' }),
    );
    const minted = fresh.headers?.get('x-fapi-interaction-id')[0];
    expect(minted).toMatch(/^[0-9a-f-]{36}$/);
    expect(app.seen.at(-1)!.interactionId).toBe(minted);
  });

  it('relays server-streaming and bidi calls with their trailers', async () => {
    const md = () => metadataOf({ authorization: `Bearer ${token}` });
    const token = await ordersToken();
    const streamed = await serverStream(orders, { message: 's', count: 5 }, md());
    expect(streamed.err).toBeUndefined();
    expect(streamed.responses.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    const both = await bidi(orders, ['a', 'b', 'c'], md());
    expect(both.err).toBeUndefined();
    expect(both.responses.map((r) => r.message)).toEqual(['a', 'b', 'c']);
  });

  it("passes the app's own status back (trailers-only UNIMPLEMENTED for an unknown method)", async () => {
    const token = await ordersToken();
    const err = await new Promise<ServiceError | null>((resolve) =>
      orders.makeUnaryRequest(
        '/demo.v1.Echo/Nope',
        (x: Buffer) => x,
        (x: Buffer) => x,
        Buffer.alloc(0),
        metadataOf({ authorization: `Bearer ${token}` }),
        { deadline: Date.now() + 10_000 },
        (e) => resolve(e),
      ),
    );
    expect(err?.code).toBe(status.UNIMPLEMENTED);
  });

  it('answers UNAVAILABLE ERR_APP_UNREACHABLE when the app is down', async () => {
    const client = echoClient(`127.0.0.1:${deadFront.port}`, channelCredentialsFrom(sources[0]!));
    closers.push(() => client.close());
    const out = await unary(
      client,
      { message: 'x' },
      metadataOf({ authorization: `Bearer ${await ordersToken()}` }),
    );
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAVAILABLE);
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_APP_UNREACHABLE');
  });
});

describe('createGrpcOutboundForwarder (outbound gRPC through the sidecar)', () => {
  const provider = (fail = false): TokenProvider & { calls: number } => {
    const p = {
      calls: 0,
      async get() {
        p.calls++;
        if (fail) throw new CertboundError('ERR_AS_UNAVAILABLE');
        return {
          accessToken: await ordersToken(),
          tokenType: 'Bearer',
          expiresAt: new Date(Date.now() + 300_000),
          thumbprint: pki.workloads['orders']!.thumbprint,
        };
      },
    };
    return p;
  };

  async function outboundClient(
    tokens: TokenProvider,
    spiffeId?: string,
  ): Promise<{ client: EchoClient; forwarder: GrpcOutboundForwarder }> {
    const out = createGrpcOutboundForwarder({
      tokens,
      source: sources[0]!,
      upstream: {
        url: `https://localhost:${front.port}`,
        audience: AUDIENCE,
        scope: 'echo',
        ...(spiffeId !== undefined ? { spiffeId } : {}),
      },
    });
    const listener = await startH2cFront(out);
    const client = echoClient(`127.0.0.1:${listener.port}`, grpcCredentials.createInsecure());
    closers.push(
      () => client.close(),
      () => listener.close(),
      () => out.close(),
    );
    return { client, forwarder: out };
  }

  it('attaches a bound token and presents the workload certificate: app → outbound → inbound → app', async () => {
    const tokens = provider();
    const { client } = await outboundClient(tokens, pki.workloads['payments']!.spiffeId);
    const before = app.seen.length;
    // Whatever the app sends as authorization is replaced.
    const out = await unary(
      client,
      { message: 'chain' },
      metadataOf({ authorization: 'Bearer forged.token.x' }),
    );
    expect(out.ok, out.ok ? '' : out.err.details).toBe(true);
    expect(app.seen[before]?.identityMetadata['x-certbound-cert-thumbprint']).toBe(
      pki.workloads['orders']!.thumbprint,
    );
    const streamed = await bidi(client, ['x', 'y']);
    expect(streamed.err?.details).toBeUndefined();
    expect(streamed.responses.map((r) => r.message)).toEqual(['x', 'y']);
    expect(tokens.calls).toBe(2);
  });

  it("propagates the app's x-fapi-interaction-id through outbound and inbound, or mints one", async () => {
    const { client } = await outboundClient(provider(), pki.workloads['payments']!.spiffeId);
    const id = '1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a';
    const sent = await unaryMetadata(client, metadataOf({ 'x-fapi-interaction-id': id }));
    expect(sent.ok).toBe(true);
    expect(sent.headers?.get('x-fapi-interaction-id')).toEqual([id]);
    expect(app.seen.at(-1)!.interactionId).toBe(id);
    const minted = await unaryMetadata(client, metadataOf({}));
    const fresh = minted.headers?.get('x-fapi-interaction-id')[0];
    expect(fresh).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(app.seen.at(-1)!.interactionId).toBe(fresh);
  });

  it('fails with UNAVAILABLE ERR_AS_UNAVAILABLE when no token can be had', async () => {
    const { client } = await outboundClient(provider(true));
    const before = app.seen.length;
    const out = await unary(client, { message: 'x' });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAVAILABLE);
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_AS_UNAVAILABLE');
    expect(app.seen.length).toBe(before);
  });

  it('refuses an upstream whose certificate has another SPIFFE ID (ERR_UPSTREAM_IDENTITY)', async () => {
    const { client } = await outboundClient(
      provider(),
      'spiffe://demo.local/ns/default/sa/someone-else',
    );
    const out = await unary(client, { message: 'x' });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAVAILABLE);
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_UPSTREAM_IDENTITY');
  });
});
