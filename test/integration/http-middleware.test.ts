import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { certboundFastify, certboundMiddleware, principalOf } from '../../src/http/index.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { mtlsAgent, send } from '../support/http-fixtures.js';

let pki: TestPki;
let issuer: TestIssuer;
let verifier: Verifier;
let expressServer: Server;
let fastify: FastifyInstance;
let orders: Agent;
let attacker: Agent;
const handled: string[] = [];

function tlsOf(name: string) {
  const w = pki.workloads[name]!;
  return {
    key: w.keyPem,
    cert: w.certPem,
    ca: w.bundlePem,
    requestCert: true,
    rejectUnauthorized: true,
  };
}

beforeAll(async () => {
  [pki, issuer] = await Promise.all([
    createTestPki(['api', 'orders', 'attacker']),
    createTestIssuer(),
  ]);
  verifier = createVerifier({
    jwks: { keys: issuer.jwks() },
    issuer: issuer.issuer,
    audience: issuer.audience,
  });
  const policies = [{ prefix: '/admin', scopes: ['admin'] }];
  const app = express();
  app.use(certboundMiddleware({ verifier, policies }));
  app.get('/{*path}', (req, res) => {
    handled.push(`express ${req.path}`);
    res.json({
      clientId: principalOf(req)?.clientId,
      interactionId: req.headers['x-fapi-interaction-id'],
      via: (req as { certbound?: { subject?: string } }).certbound?.subject,
    });
  });
  expressServer = createServer(tlsOf('api'), app);
  await new Promise<void>((resolve) => expressServer.listen(0, '127.0.0.1', resolve));

  fastify = Fastify({ https: tlsOf('api') });
  await fastify.register(certboundFastify, { verifier, policies });
  fastify.get('/*', (request) => {
    handled.push(`fastify ${request.url}`);
    return {
      clientId: (request as unknown as { certbound?: { clientId?: string } }).certbound?.clientId,
      interactionId: request.headers['x-fapi-interaction-id'],
    };
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  orders = mtlsAgent(pki.workloads['orders'], pki.workloads['api']!.bundlePem);
  attacker = mtlsAgent(pki.workloads['attacker'], pki.workloads['api']!.bundlePem);
});

afterAll(async () => {
  await Promise.all([orders?.close(), attacker?.close()]);
  await fastify?.close();
  await new Promise<void>((resolve) => {
    if (!expressServer) return resolve();
    expressServer.close(() => resolve());
    expressServer.closeAllConnections();
  });
  await verifier?.close();
  await pki?.cleanup();
});

describe.each(['express', 'fastify'])('%s over mTLS', (kind) => {
  const base = (): string =>
    kind === 'express'
      ? `https://localhost:${(expressServer.address() as AddressInfo).port}`
      : `https://localhost:${(fastify.server.address() as AddressInfo).port}`;

  it('puts the verified principal on the request', async () => {
    handled.length = 0;
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint);
    const res = await send(orders, `${base()}/data`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.json?.['clientId']).toBe('orders');
    expect(handled).toEqual([`${kind} /data`]);
  });

  it.each([
    ['a stolen token', 'attacker', '/data', 401, 'ERR_BINDING_MISMATCH', 'invalid_token'],
    ['a missing scope', 'orders', '/admin', 403, 'ERR_INSUFFICIENT_SCOPE', 'insufficient_scope'],
  ])('refuses %s without calling the handler', async (_name, who, path, status, code, bearer) => {
    handled.length = 0;
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint);
    const res = await send(who === 'orders' ? orders : attacker, `${base()}${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(status);
    expect(res.json?.['error']).toBe(code);
    expect(res.headers['www-authenticate']).toContain(`error="${bearer}"`);
    expect(handled).toEqual([]);
  });

  it('echoes x-fapi-interaction-id on served and refused requests and hands it to the route', async () => {
    const id = '2c9a7e1b-3d4f-4a5b-9c6d-7e8f9a0b1c2d';
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint);
    const served = await send(orders, `${base()}/data`, {
      headers: { authorization: `Bearer ${token}`, 'x-fapi-interaction-id': id },
    });
    expect(served.status).toBe(200);
    expect(served.headers['x-fapi-interaction-id']).toBe(id);
    expect(served.json?.['interactionId']).toBe(id);
    const refused = await send(attacker, `${base()}/data`, {
      headers: { authorization: `Bearer ${token}`, 'x-fapi-interaction-id': id },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers['x-fapi-interaction-id']).toBe(id);
    const malformed = await send(orders, `${base()}/data`, {
      headers: { authorization: `Bearer ${token}`, 'x-fapi-interaction-id': 'x' },
    });
    const fresh = malformed.headers['x-fapi-interaction-id'];
    expect(fresh).toMatch(/^[0-9a-f-]{36}$/);
    expect(malformed.json?.['interactionId']).toBe(fresh);
  });

  it('answers a bare challenge without a token', async () => {
    const res = await send(orders, `${base()}/data`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="certbound"');
    expect(res.json?.['error']).toBe('ERR_TOKEN_MISSING');
  });
});
