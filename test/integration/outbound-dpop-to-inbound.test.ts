import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { freePort } from '../support/loopback-ports.js';
import { createTestPki, type TestPki } from '../support/pki.js';

// Issue 17: sidecar A (outbound `proof: dpop`, tokens from oidc-provider with DPoP nonces
// required) → sidecar B (inbound route `proof: dpop` with server nonces, RFC 9449 §8/§9).
// Both DPoP sides are certbound's own; neither trusts the other to have checked anything.

const RESOURCE = 'https://payments.demo.local';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function counter(admin: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(name) && line.includes(labels)) sum += Number(line.split(' ').at(-1));
  return sum;
}

describe('outbound DPoP (sidecar A) against an inbound proof: dpop route with nonces (sidecar B)', () => {
  let pki: TestPki;
  let as: DevAuthorizationServer;
  let app: RecordingApp;
  let files: Awaited<ReturnType<typeof tempDir>>;
  let a: Sidecar;
  let b: Sidecar;
  let outboundA: string;
  let adminB: string;

  beforeAll(async () => {
    [pki, app, files] = await Promise.all([
      createTestPki(['orders', 'payments']),
      startRecordingApp(),
      tempDir(),
    ]);
    const w = pki.workloads;
    as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [
        { clientId: 'orders', spiffeId: w['orders']!.spiffeId, bound: false, dpopBound: true },
      ],
      resources: [{ indicator: RESOURCE, scopes: ['payments:read'], ttlSec: 300 }],
      dpop: { requireNonce: true },
      mtlsEndpointAliases: false,
    });
    const bundlePath = `${pki.dir}/bundle.pem`;
    const identityOf = (name: string) => ({
      certPath: w[name]!.paths.cert,
      keyPath: w[name]!.paths.key,
      bundlePath: w[name]!.paths.ca,
    });
    const nonceKey = await files.write('nonce.key', 'n'.repeat(48));
    const port = await freePort();
    const origin = `https://localhost:${port}`;
    b = await startSidecar(
      parseConfig(
        {
          logLevel: 'silent',
          shutdownGrace: 1_000,
          identity: identityOf('payments'),
          inbound: {
            host: '127.0.0.1',
            port,
            publicOrigin: origin,
            app: { url: app.url },
            policies: [{ prefix: '/', proof: 'dpop' }],
          },
          verify: {
            issuer: as.issuer,
            audience: RESOURCE,
            jwksUri: as.jwksUri,
            jwksCaFile: bundlePath,
            dpop: { nonce: { keyFile: nonceKey } },
          },
          admin: { host: '127.0.0.1', port: 0 },
        },
        {},
      ),
      { logger: silentLogger(), processMetrics: false },
    );
    a = await startSidecar(
      parseConfig(
        {
          logLevel: 'silent',
          shutdownGrace: 1_000,
          identity: identityOf('orders'),
          token: { issuer: as.issuer, clientId: 'orders', asCaFile: bundlePath },
          outbound: {
            host: '127.0.0.1',
            port: 0,
            upstreams: [
              {
                name: 'payments',
                url: origin,
                resource: RESOURCE,
                scope: 'payments:read',
                spiffeId: w['payments']!.spiffeId,
                proof: 'dpop',
              },
            ],
          },
          admin: { host: '127.0.0.1', port: 0 },
        },
        {},
      ),
      { logger: silentLogger(), processMetrics: false },
    );
    await Promise.all([a.whenReady(20_000), b.whenReady(20_000)]);
    outboundA = `http://127.0.0.1:${a.outbound!.port}`;
    adminB = `http://127.0.0.1:${b.admin!.port}`;
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await app?.close();
    await as?.close();
    await Promise.all([pki?.cleanup(), files?.cleanup()]);
  });

  it('calls succeed with DPoP-bound tokens after one nonce round trip at each side; proofs never reused', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await get(`${outboundA}/payments/accounts/${i}`);
      expect([res.status, res.body]).toEqual([200, expect.any(String)]);
    }
    const seen = app.seen.slice(-5);
    expect(seen.map((s) => s.url)).toEqual([0, 1, 2, 3, 4].map((i) => `/accounts/${i}`));
    // B verified DPoP: the app is told the proof key B checked against the token's cnf.jkt.
    const jkt = seen[0]!.headers['x-certbound-dpop-jkt'];
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(seen.every((s) => s.headers['x-certbound-dpop-jkt'] === jkt)).toBe(true);
    expect(seen.every((s) => s.headers['authorization'] === undefined)).toBe(true);
    // B challenged once for its nonce (use_dpop_nonce), then every proof carried it.
    expect(await counter(adminB, 'certbound_dpop_nonce_challenges_total')).toBe(1);
    expect(await counter(adminB, 'certbound_dpop_replay_hits_total')).toBe(0);
    expect(await counter(adminB, 'certbound_dpop_proofs_total', 'result="ok"')).toBe(5);
  });
});
