import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import {
  boundTokenServerInterceptor,
  channelCredentialsFrom,
  errorCodeOfDetails,
  serverCredentialsFrom,
} from '../../src/grpc/index.js';
import { certboundMiddleware, principalOf } from '../../src/http/index.js';
import { MtlsAgents } from '../../src/token/mtls-agents.js';
import { createTokenClient, type TokenClient } from '../../src/token/index.js';
import type { Verifier } from '../../src/verify/create-verifier.js';
import { createMultiIssuerVerifier } from '../../src/verify/multi-issuer-verifier.js';
import { PAYMENTS, sourceOf } from '../support/as.js';
import {
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoClient,
  type EchoServer,
} from '../support/grpc-echo.js';
import { mtlsAgent, send } from '../support/http-fixtures.js';
import { createTestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';

/** The library transports with opaque tokens: the same pipeline as the sidecar. */
describe('opaque tokens through the express middleware and the gRPC interceptor', () => {
  let pki: TestPki;
  let as: DevAuthorizationServer;
  let verifier: Verifier;
  let agents: MtlsAgents;
  let tokens: TokenClient;
  let expressServer: Server;
  let grpc: EchoServer;
  const closers: Array<() => Promise<void> | void> = [];
  let httpOrders: Agent;
  let httpAttacker: Agent;
  let grpcOrders: EchoClient;
  let grpcAttacker: EchoClient;

  beforeAll(async () => {
    pki = await createTestPki(['api', 'orders', 'attacker']);
    const w = pki.workloads;
    as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [
        { clientId: 'orders', spiffeId: w['orders']!.spiffeId },
        { clientId: 'api', spiffeId: w['api']!.spiffeId, introspector: true },
      ],
      resources: [{ indicator: PAYMENTS, scopes: ['payments:read'], format: 'opaque' }],
    });
    const api = sourceOf(w['api']!);
    agents = new MtlsAgents(undefined, 5_000);
    const jwtIssuer = await createTestIssuer('kB', 'https://b.test', PAYMENTS);
    verifier = createMultiIssuerVerifier({
      issuers: [
        {
          issuer: as.issuer,
          audience: PAYMENTS,
          introspection: {
            endpoint: as.introspectionEndpoint,
            clientId: 'api',
            fetch: agents.fetchFor(api.current()),
          },
        },
        { issuer: jwtIssuer.issuer, audience: PAYMENTS, jwks: { keys: jwtIssuer.jwks() } },
      ],
    });
    const ordersSource = sourceOf(w['orders']!);
    const attackerSource = sourceOf(w['attacker']!);
    tokens = await createTokenClient({
      source: ordersSource,
      clientId: 'orders',
      issuer: as.issuer,
      allowUnboundTokens: true,
    });

    const app = express();
    app.use(certboundMiddleware({ verifier }));
    app.get('/{*path}', (req, res) => {
      res.json({ clientId: principalOf(req)?.clientId });
    });
    expressServer = createServer(
      {
        key: w['api']!.keyPem,
        cert: w['api']!.certPem,
        ca: w['api']!.bundlePem,
        requestCert: true,
      },
      app,
    );
    await new Promise<void>((resolve) => expressServer.listen(0, '127.0.0.1', resolve));
    httpOrders = mtlsAgent(w['orders'], w['api']!.bundlePem);
    httpAttacker = mtlsAgent(w['attacker'], w['api']!.bundlePem);

    grpc = await startEchoServer({
      credentials: serverCredentialsFrom(api),
      interceptors: [boundTokenServerInterceptor(verifier)],
    });
    grpcOrders = echoClient(`127.0.0.1:${grpc.port}`, channelCredentialsFrom(ordersSource));
    grpcAttacker = echoClient(`127.0.0.1:${grpc.port}`, channelCredentialsFrom(attackerSource));
    closers.push(
      () => grpcOrders.close(),
      () => grpcAttacker.close(),
      () => grpc.close(),
      () => httpOrders.close(),
      () => httpAttacker.close(),
      () =>
        new Promise<void>((resolve) => {
          expressServer.close(() => resolve());
          expressServer.closeAllConnections();
        }),
      () => tokens.close(),
      () => verifier.close(),
      () => agents.close(),
      () => api.close(),
      () => ordersSource.close(),
      () => attackerSource.close(),
    );
  }, 30_000);

  afterAll(async () => {
    for (const close of closers) await close();
    await as?.close();
    await pki?.cleanup();
  });

  it('express middleware: accepts the opaque token from its certificate, refuses it from another', async () => {
    const token = (await tokens.get({ resource: PAYMENTS })).accessToken;
    const url = `https://localhost:${(expressServer.address() as AddressInfo).port}/x`;
    const ok = await send(httpOrders, url, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ clientId: 'orders' });
    const stolen = await send(httpAttacker, url, { headers: { authorization: `Bearer ${token}` } });
    expect(stolen.status).toBe(401);
    expect(stolen.json?.['error']).toBe('ERR_BINDING_MISMATCH');
  });

  it('gRPC interceptor: accepts the opaque token from its certificate, refuses it from another', async () => {
    const token = (await tokens.get({ resource: PAYMENTS })).accessToken;
    const md = () => metadataOf({ authorization: `Bearer ${token}` });
    const ok = await unary(grpcOrders, { message: 'hi' }, md());
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.res).toMatchObject({ client_id: 'orders' });
    const stolen = await unary(grpcAttacker, { message: 'steal' }, md());
    expect(stolen.ok).toBe(false);
    if (stolen.ok) return;
    expect(stolen.err.code).toBe(status.UNAUTHENTICATED);
    expect(errorCodeOfDetails(stolen.err.details)).toBe('ERR_BINDING_MISMATCH');
  });
});
