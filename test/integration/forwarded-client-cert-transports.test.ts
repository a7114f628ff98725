import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ServerCredentials } from '@grpc/grpc-js';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelCredentialsFrom } from '../../src/grpc/credentials.js';
import { boundTokenServerInterceptor } from '../../src/grpc/server-interceptor.js';
import { certboundMiddleware, principalOf } from '../../src/http/index.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import {
  createGrpcForwarder,
  type GrpcForwarder,
} from '../../src/sidecar/inbound/grpc-forwarder.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { createForwardedCertificates } from '../../src/verify/forwarded/index.js';
import { encode } from '../support/forwarded-cert.js';
import {
  AUDIENCE,
  ISSUER,
  createTokenMinter,
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoServer,
  type TokenMinter,
} from '../support/grpc-echo.js';
import { startMtlsFront } from '../support/grpc-front.js';
import { mtlsAgent, send } from '../support/http-fixtures.js';
import { createTestPki, materialOf, type TestPki, type TestWorkload } from '../support/pki.js';

// Library users configure trusted hops the same way as the sidecar: one
// createForwardedCertificates given to createVerifier serves the express middleware, the
// grpc-js interceptor and gRPC forwarding through the sidecar; none of them lets the
// forwarding header reach the handler.
let pki: TestPki;
let minter: TokenMinter;
let verifier: Verifier;
let plain: Verifier;
let w: Record<string, TestWorkload>;
let http: Server;
let grpcApp: EchoServer;
let interceptedApp: EchoServer;
let forwarder: GrpcForwarder;
let plainForwarder: GrpcForwarder;
const closers: Array<() => unknown> = [];
const seenHttp: Array<{ thumbprint?: string; source?: string; headers: string[] }> = [];

beforeAll(async () => {
  pki = await createTestPki(['api', 'orders', 'attacker', 'ingress']);
  minter = await createTokenMinter();
  w = pki.workloads;
  const anchors = [new X509Certificate(pki.ca.certPem)];
  const forwardedCertificates = createForwardedCertificates({
    format: 'rfc9440',
    trustedHops: { spiffeIds: [w['ingress']!.spiffeId] },
    trustAnchors: () => anchors,
  });
  verifier = createVerifier({
    jwks: { keys: minter.jwks },
    issuer: ISSUER,
    audience: AUDIENCE,
    forwardedCertificates,
  });
  plain = createVerifier({ jwks: { keys: minter.jwks }, issuer: ISSUER, audience: AUDIENCE });

  const app = express();
  app.use(certboundMiddleware({ verifier, policies: [{ prefix: '/', proof: 'either' }] }));
  app.get('/{*path}', (req, res) => {
    const p = principalOf(req);
    seenHttp.push({
      thumbprint: p?.thumbprint,
      source: p?.certificateSource,
      headers: Object.keys(req.headers),
    });
    res.json({ ok: true });
  });
  const api = w['api']!;
  http = createServer(
    { key: api.keyPem, cert: api.certPem, ca: api.bundlePem, requestCert: true },
    app,
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));

  const grpcPolicies = [{ prefix: '/demo.v1.Echo/', proof: 'either' as const }];
  grpcApp = await startEchoServer({ credentials: ServerCredentials.createInsecure() });
  forwarder = createGrpcForwarder({
    verifier,
    appUrl: `http://127.0.0.1:${grpcApp.port}`,
    policies: grpcPolicies,
  });
  plainForwarder = createGrpcForwarder({
    verifier: plain,
    appUrl: `http://127.0.0.1:${grpcApp.port}`,
  });
  interceptedApp = await startEchoServer({
    credentials: ServerCredentials.createSsl(
      Buffer.from(api.bundlePem),
      [{ private_key: Buffer.from(api.keyPem), cert_chain: Buffer.from(api.certPem) }],
      true,
    ),
    interceptors: [boundTokenServerInterceptor(verifier, { policies: grpcPolicies })],
  });
  closers.push(
    () => http.close(),
    () => grpcApp.close(),
    () => interceptedApp.close(),
    () => forwarder.close(),
    () => plainForwarder.close(),
  );
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await verifier?.close();
  await plain?.close();
  await pki?.cleanup();
});

const tokenOf = (cert: TestWorkload) => minter.mint({ thumbprint: cert.thumbprint, scope: 'echo' });
const forwardedOrders = () => encode.rfc9440(w['orders']!.certPem);

async function grpcCall(port: number, as: TestWorkload, md: Record<string, string>) {
  const source = StaticX509Source.create(materialOf(as));
  const client = echoClient(`127.0.0.1:${port}`, channelCredentialsFrom(source));
  try {
    return await unary(client, { message: 'hi' }, metadataOf(md));
  } finally {
    client.close();
    await source.close();
  }
}

describe('forwarded client certificates in the library transports', () => {
  it('express middleware: the hop forwards orders, the handler sees orders and no client-cert header', async () => {
    const agent = mtlsAgent(w['ingress'], w['api']!.bundlePem);
    try {
      const url = `https://127.0.0.1:${(http.address() as AddressInfo).port}/x`;
      const ok = await send(agent, url, {
        headers: {
          'client-cert': forwardedOrders(),
          authorization: `Bearer ${await tokenOf(w['orders']!)}`,
        },
      });
      expect(ok.status).toBe(200);
      expect(seenHttp.at(-1)).toMatchObject({
        thumbprint: w['orders']!.thumbprint,
        source: 'forwarded',
      });
      expect(seenHttp.at(-1)!.headers).not.toContain('client-cert');
      // The hop's own token does not match the forwarded client.
      const mismatch = await send(agent, url, {
        headers: {
          'client-cert': forwardedOrders(),
          authorization: `Bearer ${await tokenOf(w['ingress']!)}`,
        },
      });
      expect(mismatch.json?.['error']).toBe('ERR_BINDING_MISMATCH');
    } finally {
      await agent.close();
    }
  });

  it('grpc-js interceptor: the forwarded certificate from the hop is the client; the handler never sees client-cert', async () => {
    const before = interceptedApp.seen.length;
    const out = await grpcCall(interceptedApp.port, w['ingress']!, {
      'client-cert': forwardedOrders(),
      authorization: `Bearer ${await tokenOf(w['orders']!)}`,
    });
    expect(out.ok, out.ok ? '' : out.err.details).toBe(true);
    const seen = interceptedApp.seen[before]!;
    expect(seen.principal?.thumbprint).toBe(w['orders']!.thumbprint);
    expect(seen.metadataKeys).not.toContain('client-cert');
    // A direct caller (not a hop) forging it: read as its own certificate, the stolen token fails.
    const forged = await grpcCall(interceptedApp.port, w['attacker']!, {
      'client-cert': forwardedOrders(),
      authorization: `Bearer ${await tokenOf(w['orders']!)}`,
    });
    expect(forged.ok ? 'ok' : forged.err.details).toMatch(/^ERR_BINDING_MISMATCH/);
  });

  it('gRPC through the sidecar forwarder: the hop forwards orders; the app never sees client-cert', async () => {
    const front = await startMtlsFront(w['api']!, forwarder);
    try {
      const before = grpcApp.seen.length;
      const out = await grpcCall(front.port, w['ingress']!, {
        'client-cert': forwardedOrders(),
        authorization: `Bearer ${await tokenOf(w['orders']!)}`,
      });
      expect(out.ok, out.ok ? '' : out.err.details).toBe(true);
      const seen = grpcApp.seen[before]!;
      expect(seen.identityMetadata['x-certbound-cert-thumbprint']).toBe(w['orders']!.thumbprint);
      expect(seen.identityMetadata['x-certbound-forwarded-by']).toBe(w['ingress']!.spiffeId);
      expect(seen.metadataKeys).not.toContain('client-cert');
    } finally {
      await front.close();
    }
  });

  it('regression: the sidecar gRPC forwarder passed client-cert / x-forwarded-client-cert on to the app', async () => {
    const front = await startMtlsFront(w['api']!, plainForwarder);
    try {
      const before = grpcApp.seen.length;
      const orders = w['orders']!;
      const out = await grpcCall(front.port, orders, {
        'client-cert': forwardedOrders(),
        'x-forwarded-client-cert': encode.xfccElement({ cert: orders.certPem }),
        'x-ssl-client-der': encode.base64Der(orders.certPem),
        authorization: `Bearer ${await tokenOf(orders)}`,
      });
      expect(out.ok, out.ok ? '' : out.err.details).toBe(true);
      expect(
        grpcApp.seen[before]!.metadataKeys.filter((k) => /client-cert|ssl-client/.test(k)),
      ).toEqual([]);
    } finally {
      await front.close();
    }
  });
});
