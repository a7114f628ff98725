import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  credentials as grpcCredentials,
  makeClientConstructor,
  Metadata,
  status,
  type Client,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createTokenClient, type TokenClient } from '../../src/token/token-client.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import {
  boundTokenClientInterceptor,
  boundTokenServerInterceptor,
  channelCredentialsFrom,
  errorCodeOfDetails,
  serverCredentialsFrom,
} from '../../src/grpc/index.js';
import {
  certboundProtos,
  type GetTokenResponse,
  type IdentityUpdate,
} from '../../src/grpc/protos.js';
import { startLocalApi, type LocalApi } from '../../src/sidecar/local-api/local-api.js';
import { createTestPki, type TestPki, materialOf } from '../support/pki.js';
import { echoClient, startEchoServer, unary, type EchoServer } from '../support/grpc-echo.js';

const PAYMENTS = 'https://payments.demo.local';

let pki: TestPki;
let as: DevAuthorizationServer;
let ordersSource: StaticX509Source;
let paymentsSource: StaticX509Source;
let tokens: TokenClient;
let verifier: Verifier;
let api: LocalApi;
let echo: EchoServer;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  pki = await createTestPki(['orders', 'payments']);
  as = await startAuthorizationServer({
    ca: pki.ca,
    bundlePem: pki.ca.certPem,
    clients: [{ clientId: 'orders', spiffeId: pki.workloads['orders']!.spiffeId }],
    resources: [{ indicator: PAYMENTS, scopes: ['echo'] }],
  });
  ordersSource = StaticX509Source.create(materialOf(pki.workloads['orders']!));
  paymentsSource = StaticX509Source.create(materialOf(pki.workloads['payments']!));
  tokens = await createTokenClient({ source: ordersSource, clientId: 'orders', issuer: as.issuer });
  verifier = createVerifier({
    jwks: { url: as.jwksUri, ca: pki.ca.certPem },
    issuer: as.issuer,
    audience: PAYMENTS,
  });
  api = await startLocalApi({ tokens, source: ordersSource });
  echo = await startEchoServer({
    credentials: serverCredentialsFrom(paymentsSource),
    interceptors: [boundTokenServerInterceptor(verifier)],
  });
});

afterAll(async () => {
  for (const close of closers) await close();
  await api?.close();
  await echo?.close();
  await tokens?.close();
  await verifier?.close();
  await as?.close();
  await ordersSource?.close();
  await paymentsSource?.close();
  await pki?.cleanup();
});

interface LocalApiClient extends Client {
  GetToken(
    req: { audience?: string; resource?: string; scope?: string },
    cb: (err: ServiceError | null, res?: GetTokenResponse) => void,
  ): void;
}
interface IdentityClient extends Client {
  WatchIdentity(req: object, md?: Metadata): ClientReadableStream<IdentityUpdate>;
}
interface HealthClient extends Client {
  Check(
    req: { service: string },
    cb: (err: ServiceError | null, res?: { status: string }) => void,
  ): void;
}

function localClient<T>(service: 'tokenService' | 'identityService' | 'healthService'): T {
  const Ctor = makeClientConstructor(certboundProtos()[service], service);
  const client = new Ctor(api.address, grpcCredentials.createInsecure()) as unknown as T & Client;
  closers.push(() => client.close());
  return client;
}

describe('boundTokenClientInterceptor with the TokenClient against oidc-provider', () => {
  it('attaches bound tokens that the server interceptor accepts, and caches them', async () => {
    const client = echoClient(`127.0.0.1:${echo.port}`, channelCredentialsFrom(ordersSource), [
      boundTokenClientInterceptor(tokens, { resource: PAYMENTS, scope: 'echo' }),
    ]);
    closers.push(() => client.close());
    const before = as.requestCounts.token + as.requestCounts.mtlsToken;
    const calls = 20;
    for (let i = 0; i < calls; i++) {
      const out = await unary(client, { message: `m${i}` });
      expect(out.ok, out.ok ? '' : out.err.details).toBe(true);
    }
    // One grant for twenty calls: the token is cached per (thumbprint, resource, scope).
    expect(as.requestCounts.token + as.requestCounts.mtlsToken - before).toBe(1);
    const last = echo.seen.at(-1)!;
    expect(last.principal?.clientId).toBe('orders');
    expect(last.principal?.thumbprint).toBe(pki.workloads['orders']!.thumbprint);
    expect(tokens.stats().hits).toBeGreaterThanOrEqual(calls - 1);
  });

  it('fails with UNAVAILABLE ERR_AS_* when the AS refuses the grant', async () => {
    const client = echoClient(`127.0.0.1:${echo.port}`, channelCredentialsFrom(ordersSource), [
      boundTokenClientInterceptor(tokens, {
        resource: 'https://unknown.demo.local',
        scope: 'echo',
      }),
    ]);
    closers.push(() => client.close());
    const before = echo.seen.length;
    const out = await unary(client, { message: 'x' });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.err.code).toBe(status.UNAVAILABLE);
    expect(errorCodeOfDetails(out.err.details)).toMatch(/^ERR_AS_/);
    expect(echo.seen.length).toBe(before);
  });
});

describe('local token API (Unix socket)', () => {
  it('listens on a Unix socket by default', () => {
    expect(api.address).toMatch(/^unix:\//);
  });

  it('GetToken returns a token bound to the source certificate', async () => {
    const client = localClient<LocalApiClient>('tokenService');
    const res = await new Promise<GetTokenResponse>((resolve, reject) =>
      client.GetToken({ resource: PAYMENTS, scope: 'echo' }, (err, r) =>
        err ? reject(err) : resolve(r!),
      ),
    );
    expect(res.token_type).toBe('Bearer');
    expect(res.cnf_thumbprint).toBe(ordersSource.current().thumbprint);
    const claims = decodeJwt(res.access_token);
    expect((claims['cnf'] as Record<string, unknown>)['x5t#S256']).toBe(
      ordersSource.current().thumbprint,
    );
    // The client counts the lifetime from when it sent the request (the earlier of that and
    // `exp`), so on a slow machine it may be a second before the token's own `exp`.
    expect(Number(res.expires_at)).toBeLessThanOrEqual(claims.exp!);
    expect(Number(res.expires_at)).toBeGreaterThanOrEqual(claims.exp! - 5);
    // The token works on an mTLS connection that presents the same certificate.
    const echoWithToken = echoClient(
      `127.0.0.1:${echo.port}`,
      channelCredentialsFrom(ordersSource),
    );
    closers.push(() => echoWithToken.close());
    const md = new Metadata();
    md.set('authorization', `Bearer ${res.access_token}`);
    const out = await unary(echoWithToken, { message: 'from-local-api' }, md);
    expect(out.ok).toBe(true);
  });

  it('GetToken reports AS failures with their stable code', async () => {
    const client = localClient<LocalApiClient>('tokenService');
    const err = await new Promise<ServiceError | null>((resolve) =>
      client.GetToken({ resource: 'https://unknown.demo.local' }, (e) => resolve(e)),
    );
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(errorCodeOfDetails(err?.details ?? '')).toMatch(/^ERR_AS_/);
  });

  it('WatchIdentity sends the identity, then again after a rotation, never the key', async () => {
    const client = localClient<IdentityClient>('identityService');
    const call = client.WatchIdentity({});
    const updates: IdentityUpdate[] = [];
    const waiters: Array<() => void> = [];
    call.on('data', (u: IdentityUpdate) => {
      updates.push(u);
      waiters.shift()?.();
    });
    call.on('error', () => undefined);
    const next = (n: number) =>
      new Promise<void>((resolve) => (updates.length >= n ? resolve() : waiters.push(resolve)));
    await next(1);
    expect(updates[0]!.thumbprint).toBe(pki.workloads['orders']!.thumbprint);
    expect(updates[0]!.spiffe_id).toBe(pki.workloads['orders']!.spiffeId);
    expect(updates[0]!.bundle_pem).toContain('BEGIN CERTIFICATE');

    const rotated = await pki.issue('orders');
    ordersSource.set(materialOf(rotated));
    await next(2);
    expect(updates[1]!.thumbprint).toBe(rotated.thumbprint);
    expect(updates[1]!.cert_chain_pem).toContain('BEGIN CERTIFICATE');
    expect(updates[1]!.not_after).toBe(
      Math.floor(ordersSource.current().notAfter.getTime() / 1000),
    );
    for (const u of updates) expect(JSON.stringify(u)).not.toMatch(/PRIVATE KEY/);
    call.cancel();
  });

  it('serves grpc.health.v1.Health', async () => {
    const client = localClient<HealthClient>('healthService');
    const check = (service: string) =>
      new Promise<{ status?: string; code?: number }>((resolve) =>
        client.Check({ service }, (err, res) =>
          resolve(err ? { code: err.code } : { status: res!.status }),
        ),
      );
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('certbound.v1.TokenService')).toEqual({ status: 'SERVING' });
    expect(await check('nope')).toEqual({ code: status.NOT_FOUND });
  });

  it('refuses a non-loopback host', async () => {
    await expect(startLocalApi({ tokens, source: ordersSource, host: '0.0.0.0' })).rejects.toThrow(
      TypeError,
    );
  });

  it('regression: listens on every loopback address the config accepts (127.0.0.2 and ::ffff:127.0.0.1 were refused)', async () => {
    for (const host of ['127.0.0.2', '::ffff:127.0.0.1']) {
      const other = await startLocalApi({ tokens, source: ordersSource, host });
      try {
        expect(other.address).toMatch(/:\d+$/);
      } finally {
        await other.close();
      }
    }
    await expect(
      startLocalApi({ tokens, source: ordersSource, host: '127.0.0.1.nip.io' }),
    ).rejects.toThrow(TypeError);
  });
});
