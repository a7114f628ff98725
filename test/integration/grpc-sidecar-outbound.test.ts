import { credentials, ServerCredentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import {
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoServer,
} from '../support/grpc-echo.js';
import { createTestPki, type TestPki } from '../support/pki.js';

const PAYMENTS = 'https://payments.demo.local';

/**
 * gRPC through both sidecars: orders' plaintext gRPC client → sidecar A's outbound gRPC
 * listener (h2c on loopback; token + workload certificate added) → sidecar B's inbound
 * listener (verifies token + binding) → the payments grpc-js app on loopback (h2c).
 */
describe('gRPC app → sidecar A (outbound gRPC) → sidecar B (inbound) → gRPC app', () => {
  let pki: TestPki;
  let as: DevAuthorizationServer;
  let app: EchoServer;
  let a: Sidecar;
  let b: Sidecar;

  beforeAll(async () => {
    pki = await createTestPki(['orders', 'payments']);
    const w = pki.workloads;
    const bundle = `${pki.dir}/bundle.pem`;
    as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [{ clientId: 'orders', spiffeId: w['orders']!.spiffeId }],
      resources: [{ indicator: PAYMENTS, scopes: ['echo'], ttlSec: 300 }],
    });
    app = await startEchoServer({ credentials: ServerCredentials.createInsecure() });
    const identityOf = (name: string) => ({
      certPath: w[name]!.paths.cert,
      keyPath: w[name]!.paths.key,
      bundlePath: w[name]!.paths.ca,
    });
    b = await startSidecar(
      parseConfig(
        {
          logLevel: 'silent',
          identity: identityOf('payments'),
          inbound: {
            host: '127.0.0.1',
            port: 0,
            app: { url: 'http://127.0.0.1:1', grpcUrl: `http://127.0.0.1:${app.port}` },
          },
          verify: {
            issuer: as.issuer,
            audience: PAYMENTS,
            jwksUri: as.jwksUri,
            jwksCaFile: bundle,
          },
        },
        {},
      ),
      { logger: silentLogger(), processMetrics: false },
    );
    a = await startSidecar(
      parseConfig(
        {
          logLevel: 'silent',
          identity: identityOf('orders'),
          token: { issuer: as.issuer, clientId: 'orders', asCaFile: bundle },
          outbound: {
            host: '127.0.0.1',
            port: 0,
            grpcPort: 0,
            upstreams: [
              {
                name: 'payments',
                protocol: 'grpc',
                url: `https://localhost:${b.inbound!.port}`,
                resource: PAYMENTS,
                scope: 'echo',
                spiffeId: w['payments']!.spiffeId,
              },
            ],
          },
        },
        {},
      ),
      { logger: silentLogger(), processMetrics: false },
    );
    await Promise.all([a.whenReady(20_000), b.whenReady(20_000)]);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await app?.close();
    await as?.close();
    await pki?.cleanup();
  });

  const client = (authority: string) =>
    echoClient(`127.0.0.1:${a.outboundGrpc!.port}`, credentials.createInsecure(), [], {
      'grpc.default_authority': authority,
    });

  it('carries the call with a bound token; the app sees the verified caller, never a client-set identity', async () => {
    const c = client('payments');
    const tokenRequests = as.requestCounts.token + as.requestCounts.mtlsToken;
    for (let i = 0; i < 5; i++) {
      const out = await unary(
        c,
        { message: `hi-${i}` },
        metadataOf({ 'x-certbound-client-id': 'admin' }),
      );
      expect(out.ok && out.res.message).toBe(`hi-${i}`);
    }
    c.close();
    const last = app.seen.at(-1)!;
    expect(last.hasAuthorization).toBe(false);
    expect(last.identityMetadata['x-certbound-client-id']).toBe('orders');
    expect(last.identityMetadata['x-certbound-spiffe-id']).toBe(pki.workloads['orders']!.spiffeId);
    expect(last.identityMetadata['x-certbound-cert-thumbprint']).toBe(
      pki.workloads['orders']!.thumbprint,
    );
    // The token fetched at readiness is reused: no AS request for these five calls.
    expect(as.requestCounts.token + as.requestCounts.mtlsToken).toBe(tokenRequests);
  });

  it('an unknown upstream authority ends with NOT_FOUND and ERR_UPSTREAM_UNKNOWN', async () => {
    const c = client('nowhere');
    const out = await unary(c, { message: 'x' }, metadataOf());
    c.close();
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.err.code).toBe(status.NOT_FOUND);
      expect(out.err.details).toMatch(/^ERR_UPSTREAM_UNKNOWN:/);
    }
  });
});
