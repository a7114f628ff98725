import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  certboundFastify,
  certboundMiddleware,
  certboundRewriteUrl,
} from '../../src/http/index.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, materialOf, type TestPki } from '../support/pki.js';
import { openRawHttp1, rawRequest } from '../support/raw-http1.js';

let pki: TestPki;
let issuer: TestIssuer;
let verifier: Verifier;
let expressServer: Server;
let fastify: FastifyInstance;
let rewriting: FastifyInstance;
const handled: string[] = [];
const policies = [{ prefix: '/admin', scopes: ['admin'] }];

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

async function startFastify(rewrite: boolean): Promise<FastifyInstance> {
  const app = Fastify({
    https: tlsOf('api'),
    ...(rewrite ? { rewriteUrl: certboundRewriteUrl } : {}),
  });
  const kind = rewrite ? 'fastify+rewriteUrl' : 'fastify';
  await app.register(certboundFastify, { verifier, policies });
  app.get('/admin/*', (request) => (handled.push(`${kind} admin ${request.url}`), {}));
  app.get('/*', (request) => (handled.push(`${kind} any ${request.url}`), {}));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

beforeAll(async () => {
  [pki, issuer] = await Promise.all([createTestPki(['api', 'orders']), createTestIssuer()]);
  verifier = createVerifier({
    jwks: { keys: issuer.jwks() },
    issuer: issuer.issuer,
    audience: issuer.audience,
  });
  const app = express();
  app.use(certboundMiddleware({ verifier, policies }));
  app.get('/admin/{*rest}', (req, res) => {
    handled.push(`express admin ${req.url}`);
    res.json({});
  });
  app.get('/{*rest}', (req, res) => {
    handled.push(`express any ${req.url}`);
    res.json({});
  });
  expressServer = createServer(tlsOf('api'), app);
  await new Promise<void>((resolve) => expressServer.listen(0, '127.0.0.1', resolve));
  [fastify, rewriting] = await Promise.all([startFastify(false), startFastify(true)]);
});

afterAll(async () => {
  await Promise.all([fastify?.close(), rewriting?.close()]);
  await new Promise<void>((resolve) => {
    if (!expressServer) return resolve();
    expressServer.close(() => resolve());
    expressServer.closeAllConnections();
  });
  await verifier?.close();
  await pki?.cleanup();
});

beforeEach(() => {
  handled.length = 0;
});

const portOf = (kind: string): number =>
  (
    (kind === 'express'
      ? expressServer.address()
      : (kind === 'fastify' ? fastify : rewriting).server.address()) as AddressInfo
  ).port;

async function call(kind: string, head: string): Promise<[number, unknown]> {
  const conn = await openRawHttp1(portOf(kind), materialOf(pki.workloads['orders']!));
  try {
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint);
    conn.write(rawRequest(head, { host: 'localhost', authorization: `Bearer ${token}` }));
    const res = await conn.next();
    if (res === 'closed') return [0, 'closed'];
    const body = JSON.parse(res.body || '{}') as { error?: unknown };
    return [res.status, body.error ?? 'ok'];
  } finally {
    conn.close();
  }
}

describe('middleware and Fastify plugin: the handler that runs is the one the policy judged', () => {
  const cases: Array<[string, string, number, unknown, string[]]> = [
    // Dot segments: the route the framework picks must be the normalised path.
    ['express', 'GET /admin/../public', 200, 'ok', ['express any /public']],
    ['fastify', 'GET /admin/../public', 400, 'ERR_PATH_UNSAFE', []],
    ['fastify+rewriteUrl', 'GET /admin/../public', 200, 'ok', ['fastify+rewriteUrl any /public']],
    ['express', 'GET /public/../admin/x', 403, 'ERR_INSUFFICIENT_SCOPE', []],
    ['fastify+rewriteUrl', 'GET /public/../admin/x', 403, 'ERR_INSUFFICIENT_SCOPE', []],
    // Case-insensitive prefixes by default.
    ['express', 'GET /ADMIN/x', 403, 'ERR_INSUFFICIENT_SCOPE', []],
    ['fastify', 'GET /Admin/x', 403, 'ERR_INSUFFICIENT_SCOPE', []],
    // Absolute-form is judged by its path.
    ['express', 'GET https://localhost/admin/x', 403, 'ERR_INSUFFICIENT_SCOPE', []],
    ['fastify', 'GET https://localhost/admin/x', 400, 'ERR_PATH_UNSAFE', []],
    // Refused targets.
    ['express', 'GET /admin%2F..%2Fpublic', 400, 'ERR_PATH_UNSAFE', []],
    ['fastify', 'GET /public/..;/admin/x', 400, 'ERR_PATH_UNSAFE', []],
    ['express', 'OPTIONS *', 400, 'ERR_REQUEST_TARGET_UNSUPPORTED', []],
    ['fastify', 'OPTIONS *', 400, 'ERR_REQUEST_TARGET_UNSUPPORTED', []],
  ];

  it.each(cases)('%s: %s → %i %s', async (kind, head, status, code, ran) => {
    expect(await call(kind, head)).toEqual([status, code]);
    expect(handled).toEqual(ran);
  });

  it('refuses a policy prefix that cannot be normalised when the middleware is built', () => {
    expect(() => certboundMiddleware({ verifier, policies: [{ prefix: '/a%2Fb' }] })).toThrow(
      TypeError,
    );
  });
});
