import { connect as http2Connect } from 'node:http2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Agent } from 'undici';
import { parseConfig } from '../../src/config/load-config.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import {
  mtlsAgent,
  send,
  startRecordingApp,
  tempDir,
  type RecordingApp,
} from '../support/http-fixtures.js';

let pki: TestPki;
let foreign: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let sidecar: Sidecar;
let base: string;
let orders: Agent;
let attacker: Agent;
let noCert: Agent;
let unknownCa: Agent;
let files: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  [pki, foreign, issuer, app, files] = await Promise.all([
    createTestPki(['payments', 'orders', 'attacker']),
    createTestPki(['orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  const jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const payments = pki.workloads['payments']!;
  const config = parseConfig(
    {
      logLevel: 'silent',
      identity: {
        certPath: payments.paths.cert,
        keyPath: payments.paths.key,
        bundlePath: payments.paths.ca,
      },
      inbound: {
        host: '127.0.0.1',
        port: 0,
        app: { url: app.url },
        limits: { maxHeaderBytes: 4096, appTimeout: '1s' },
        policies: [
          { prefix: '/admin', spiffeIds: ['spiffe://demo.local/ns/default/sa/ops'] },
          { prefix: '/write', scopes: ['payments:admin'] },
        ],
      },
      verify: { issuer: issuer.issuer, audience: issuer.audience, jwksFile },
      admin: { host: '127.0.0.1', port: 0 },
    },
    {},
  );
  sidecar = await startSidecar(config, { logger: silentLogger(), processMetrics: false });
  base = `https://localhost:${sidecar.inbound!.port}`;
  const bundle = payments.bundlePem;
  orders = mtlsAgent(pki.workloads['orders'], bundle);
  attacker = mtlsAgent(pki.workloads['attacker'], bundle);
  noCert = mtlsAgent(undefined, bundle);
  unknownCa = mtlsAgent(foreign.workloads['orders'], bundle);
});

afterAll(async () => {
  await Promise.all([orders, attacker, noCert, unknownCa].map((a) => a?.close()));
  await sidecar?.close();
  await app?.close();
  await Promise.all([pki?.cleanup(), foreign?.cleanup(), files?.cleanup()]);
});

beforeEach(() => {
  app.seen.length = 0;
});

const ordersThumb = (): string => pki.workloads['orders']!.thumbprint;

describe('inbound verifying proxy', () => {
  it('forwards a verified request with identity headers and relays the response unchanged', async () => {
    const token = await issuer.sign(ordersThumb());
    const res = await send(orders, `${base}/stream?x=1`, {
      headers: {
        authorization: `Bearer ${token}`,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'x-certbound-client-id': 'admin',
        'X-Certbound-Anything': 'spoof',
      },
    });
    expect(res.status).toBe(207);
    expect(res.headers['x-app']).toBe('yes');
    expect(res.body).toBe('one,two,three');
    expect(app.seen).toHaveLength(1);
    const seen = app.seen[0]!;
    expect(seen.url).toBe('/stream?x=1');
    expect(seen.headers['authorization']).toBeUndefined();
    expect(seen.headers['traceparent']).toBe(
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    );
    expect(seen.headers['x-certbound-client-id']).toBe('orders');
    expect(seen.headers['x-certbound-anything']).toBeUndefined();
    expect(seen.headers['x-certbound-subject']).toBe('orders');
    expect(seen.headers['x-certbound-scope']).toBe('payments:read payments:write');
    expect(seen.headers['x-certbound-spiffe-id']).toBe(pki.workloads['orders']!.spiffeId);
    expect(seen.headers['x-certbound-cert-thumbprint']).toBe(ordersThumb());
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-host']).toBe(`localhost:${sidecar.inbound!.port}`);
  });

  it('streams a request body to the app and multi-valued headers back', async () => {
    const token = await issuer.sign(ordersThumb());
    const payload = 'x'.repeat(200_000);
    const res = await send(orders, `${base}/echo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: payload,
    });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(payload.length);
    const plain = await send(orders, `${base}/cookies`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(plain.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  const attacks: Array<{
    name: string;
    agent: () => Agent;
    headers: () => Promise<Record<string, string | string[]>>;
    path?: string;
    status: number;
    code: string;
    bearer?: string | null;
  }> = [
    {
      name: 'stolen token (bound to another valid cert)',
      agent: () => attacker,
      headers: async () => ({ authorization: `Bearer ${await issuer.sign(ordersThumb())}` }),
      status: 401,
      code: 'ERR_BINDING_MISMATCH',
      bearer: 'invalid_token',
    },
    {
      name: 'no Authorization',
      agent: () => orders,
      headers: () => Promise.resolve({}),
      status: 401,
      code: 'ERR_TOKEN_MISSING',
      bearer: null,
    },
    {
      name: 'Basic scheme',
      agent: () => orders,
      headers: () => Promise.resolve({ authorization: 'Basic b3JkZXJzOnNlY3JldA==' }),
      status: 400,
      code: 'ERR_INVALID_REQUEST',
      bearer: 'invalid_request',
    },
    {
      name: 'two tokens',
      agent: () => orders,
      headers: async () => {
        const t = await issuer.sign(ordersThumb());
        return { authorization: [`Bearer ${t}`, `Bearer ${t}`] };
      },
      status: 400,
      code: 'ERR_INVALID_REQUEST',
      bearer: 'invalid_request',
    },
    {
      name: 'token in the query',
      agent: () => orders,
      headers: async () => ({ authorization: `Bearer ${await issuer.sign(ordersThumb())}` }),
      path: '/data?access_token=abc',
      status: 400,
      code: 'ERR_INVALID_REQUEST',
      bearer: 'invalid_request',
    },
    {
      name: 'malformed JWT',
      agent: () => orders,
      headers: () => Promise.resolve({ authorization: 'Bearer not.a-jwt' }),
      status: 401,
      code: 'ERR_TOKEN_MALFORMED',
      bearer: 'invalid_token',
    },
    {
      name: 'expired token',
      agent: () => orders,
      headers: async () => {
        const now = Math.floor(Date.now() / 1000);
        return {
          authorization: `Bearer ${await issuer.sign(ordersThumb(), { iat: now - 600, exp: now - 300 })}`,
        };
      },
      status: 401,
      code: 'ERR_TOKEN_EXPIRED',
      bearer: 'invalid_token',
    },
    {
      name: 'wrong audience',
      agent: () => orders,
      headers: async () => ({
        authorization: `Bearer ${await issuer.sign(ordersThumb(), { aud: 'https://other.test' })}`,
      }),
      status: 401,
      code: 'ERR_TOKEN_AUDIENCE',
      bearer: 'invalid_token',
    },
    {
      name: 'policy: wrong SPIFFE id',
      agent: () => orders,
      headers: async () => ({ authorization: `Bearer ${await issuer.sign(ordersThumb())}` }),
      path: '/admin/users',
      status: 403,
      code: 'ERR_POLICY_DENIED',
      bearer: 'insufficient_scope',
    },
    {
      name: 'policy: dot segments cannot dodge a prefix',
      agent: () => orders,
      headers: async () => ({ authorization: `Bearer ${await issuer.sign(ordersThumb())}` }),
      path: '/public/%2e%2e/admin',
      status: 403,
      code: 'ERR_POLICY_DENIED',
      bearer: 'insufficient_scope',
    },
    {
      name: 'policy: missing scope',
      agent: () => orders,
      headers: async () => ({ authorization: `Bearer ${await issuer.sign(ordersThumb())}` }),
      path: '/write/x',
      status: 403,
      code: 'ERR_INSUFFICIENT_SCOPE',
      bearer: 'insufficient_scope',
    },
    {
      name: 'oversized headers',
      agent: () => orders,
      headers: async () => ({
        authorization: `Bearer ${await issuer.sign(ordersThumb())}`,
        'x-big': 'a'.repeat(8000),
      }),
      status: 431,
      code: 'ERR_HEADERS_TOO_LARGE',
    },
  ];

  for (const attack of attacks) {
    it(`refuses ${attack.name} with ${attack.status} ${attack.code}; the app sees nothing`, async () => {
      const res = await send(attack.agent(), `${base}${attack.path ?? '/data'}`, {
        headers: await attack.headers(),
      });
      expect(res.status).toBe(attack.status);
      expect(res.json?.['error']).toBe(attack.code);
      if (attack.bearer === null)
        expect(res.headers['www-authenticate']).toBe('Bearer realm="certbound"');
      else if (attack.bearer !== undefined)
        expect(res.headers['www-authenticate']).toContain(`error="${attack.bearer}"`);
      expect(app.seen).toHaveLength(0);
    });
  }

  it('refuses clients without a certificate or with an unknown CA at the handshake', async () => {
    const token = await issuer.sign(ordersThumb());
    for (const agent of [noCert, unknownCa]) {
      await expect(
        send(agent, `${base}/data`, { headers: { authorization: `Bearer ${token}` } }),
      ).rejects.toThrow();
    }
    expect(app.seen).toHaveLength(0);
  });

  it('serves HTTP/2 with the same verification', async () => {
    const token = await issuer.sign(ordersThumb());
    const w = pki.workloads['orders']!;
    const session = http2Connect(base, { ca: w.bundlePem, cert: w.certPem, key: w.keyPem });
    try {
      const call = (headers: Record<string, string>): Promise<{ status: number; body: string }> =>
        new Promise((resolve, reject) => {
          const stream = session.request({ ':path': '/h2', ...headers });
          let status = 0;
          let body = '';
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.setEncoding('utf8');
          stream.on('data', (c: string) => (body += c));
          stream.on('end', () => resolve({ status, body }));
          stream.on('error', reject);
          stream.end();
        });
      const ok = await call({ authorization: `Bearer ${token}`, 'x-certbound-client-id': 'evil' });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toEqual({ path: '/h2' });
      expect(app.seen[0]!.headers['x-certbound-client-id']).toBe('orders');
      const refused = await call({});
      expect(refused.status).toBe(401);
      expect(app.seen).toHaveLength(1);
      const grpc = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({
          ':path': '/pkg.Svc/Call',
          ':method': 'POST',
          'content-type': 'application/grpc',
        });
        stream.on('response', (h) => resolve(h));
        stream.on('error', reject);
        stream.end();
      });
      expect(grpc['grpc-status']).toBe('16');
      expect(String(grpc['grpc-message'])).toContain('ERR_TOKEN_MISSING');
      expect(app.seen).toHaveLength(1);
    } finally {
      session.close();
    }
  });

  it('passes a WebSocket upgrade only after verification', async () => {
    const wss = new WebSocketServer({ server: app.server });
    wss.on('connection', (socket, req) => {
      socket.send(`hello ${String(req.headers['x-certbound-client-id'])}`);
    });
    const w = pki.workloads['orders']!;
    const open = (headers: Record<string, string>): Promise<string> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`wss://localhost:${sidecar.inbound!.port}/ws`, {
          ca: w.bundlePem,
          cert: w.certPem,
          key: w.keyPem,
          headers,
        });
        ws.once('message', (m) => {
          resolve((m as Buffer).toString());
          ws.close();
        });
        ws.once('unexpected-response', (_req, res) => {
          resolve(`status ${res.statusCode}`);
          ws.terminate();
        });
        ws.once('error', reject);
      });
    try {
      expect(
        await open({
          authorization: `Bearer ${await issuer.sign(ordersThumb())}`,
          'x-certbound-client-id': 'evil',
        }),
      ).toBe('hello orders');
      expect(await open({})).toBe('status 401');
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  it('answers 504 ERR_APP_TIMEOUT when the app is slow', async () => {
    const res = await send(orders, `${base}/slow`, {
      headers: { authorization: `Bearer ${await issuer.sign(ordersThumb())}` },
    });
    expect(res.status).toBe(504);
    expect(res.json?.['error']).toBe('ERR_APP_TIMEOUT');
  });

  it('exposes readiness and metrics on the admin listener', async () => {
    const admin = `http://127.0.0.1:${sidecar.admin!.port}`;
    const ready = await fetch(`${admin}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${admin}/metrics`)).text();
    expect(text).toMatch(
      /certbound_inbound_requests_total\{result="rejected",code="ERR_BINDING_MISMATCH"\} [1-9]/,
    );
    expect(text).toMatch(/certbound_inbound_requests_total\{result="ok",code="none"\} [1-9]/);
    expect(text).toMatch(/certbound_verify_cache_hits_total [1-9]/);
    expect(text).toMatch(/certbound_certificate_expiry_timestamp_seconds \d/);
    expect(text).toContain('certbound_active_connections');
    expect(text).toContain('certbound_verify_duration_seconds_bucket');
  });
});
