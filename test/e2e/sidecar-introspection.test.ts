import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CompactSign } from 'jose';
import type { Agent } from 'undici';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { createTokenClient, type TokenClient } from '../../src/token/index.js';
import { PAYMENTS, sourceOf } from '../support/as.js';
import {
  mtlsAgent,
  send,
  startRecordingApp,
  tempDir,
  type RecordingApp,
} from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

/**
 * The built CLI with two issuers: oidc-provider issuing opaque tokens bound to the client
 * certificate (introspected by the sidecar with its own certificate), and a JWKS issuer B.
 */
describe('certbound run with verify.issuers: opaque tokens by introspection + a second JWT issuer', () => {
  let pki: TestPki;
  let as: DevAuthorizationServer;
  let b: TestIssuer;
  let app: RecordingApp;
  let files: Awaited<ReturnType<typeof tempDir>>;
  let sidecar: SidecarProcess;
  let tokens: TokenClient;
  let closeSource: () => Promise<void>;
  let base: string;
  const agents: Agent[] = [];

  beforeAll(async () => {
    [pki, app, files, b] = await Promise.all([
      createTestPki(['orders', 'payments', 'attacker']),
      startRecordingApp(),
      tempDir(),
      createTestIssuer('kB', 'https://b.test', PAYMENTS),
    ]);
    const w = pki.workloads;
    as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [
        { clientId: 'orders', spiffeId: w['orders']!.spiffeId },
        { clientId: 'payments', spiffeId: w['payments']!.spiffeId, introspector: true },
      ],
      resources: [
        { indicator: PAYMENTS, scopes: ['payments:read'], ttlSec: 300, format: 'opaque' },
      ],
    });
    const jwksB = await files.write('b.json', JSON.stringify(b.jwks()));
    const config = await files.write(
      'multi.yaml',
      `identity: { certPath: ${w['payments']!.paths.cert}, keyPath: ${w['payments']!.paths.key}, bundlePath: ${w['payments']!.paths.ca} }
shutdownGrace: 2s
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${app.url}" }
  policies:
    - { prefix: /b-only, issuers: ["${b.issuer}"] }
verify:
  issuers:
    - issuer: "${as.issuer}"
      audience: "${PAYMENTS}"
      introspection: { clientId: payments, cacheMaxAge: 60s }
    - { issuer: "${b.issuer}", audience: "${PAYMENTS}", jwksFile: ${jwksB} }
admin: { host: 127.0.0.1, port: 0 }
`,
    );
    sidecar = await startSidecarProcess(config);
    base = `https://127.0.0.1:${sidecar.addresses.inbound!.split(':').at(-1)}`;
    const source = sourceOf(w['orders']!);
    closeSource = () => source.close();
    tokens = await createTokenClient({
      source,
      clientId: 'orders',
      issuer: as.issuer,
      allowUnboundTokens: true,
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await sidecar?.stop();
    await tokens?.close();
    await closeSource?.();
    await as?.close();
    await app?.close();
    await Promise.all([pki?.cleanup(), files?.cleanup()]);
  });

  function agentOf(name: string): Agent {
    const agent = mtlsAgent(pki.workloads[name], pki.ca.certPem);
    agents.push(agent);
    return agent;
  }

  const get = (agent: Agent, path: string, token: string) =>
    send(agent, `${base}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('forwards a request with an opaque token bound to the caller, refuses it from another certificate', async () => {
    const opaque = (await tokens.get({ resource: PAYMENTS })).accessToken;
    expect(opaque).not.toContain('.');
    const ok = await get(agentOf('orders'), '/opaque', opaque);
    expect(ok.status).toBe(200);
    expect(app.seen.at(-1)?.url).toBe('/opaque');
    const stolen = await get(agentOf('attacker'), '/opaque', opaque);
    expect(stolen.status).toBe(401);
    expect(stolen.json?.['error']).toBe('ERR_BINDING_MISMATCH');
  });

  it("routes JWTs by iss: B's tokens accepted, a token signed by another key claiming B refused", async () => {
    const orders = pki.workloads['orders']!;
    expect((await get(agentOf('orders'), '/jwt', await b.sign(orders.thumbprint))).status).toBe(
      200,
    );
    const mallory = await createTestIssuer('kB', b.issuer, PAYMENTS);
    const forged = await mallory.sign(orders.thumbprint);
    const refused = await get(agentOf('orders'), '/jwt', forged);
    expect(refused.status).toBe(401);
    expect(refused.json?.['error']).toBe('ERR_TOKEN_SIGNATURE');
    // A JWT naming the opaque issuer has no keys to be verified with.
    const now = Math.floor(Date.now() / 1000);
    const claimsAs = await new CompactSign(
      new TextEncoder().encode(
        JSON.stringify({ iss: as.issuer, aud: PAYMENTS, iat: now, exp: now + 60 }),
      ),
    )
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'kB' })
      .sign(b.privateKey);
    expect((await get(agentOf('orders'), '/jwt', claimsAs)).json?.['error']).toBe(
      'ERR_TOKEN_ISSUER',
    );
  });

  it('enforces a policy requiring issuer B', async () => {
    const orders = pki.workloads['orders']!;
    const opaque = (await tokens.get({ resource: PAYMENTS })).accessToken;
    const denied = await get(agentOf('orders'), '/b-only/x', opaque);
    expect(denied.status).toBe(403);
    expect(denied.json?.['error']).toBe('ERR_POLICY_DENIED');
    const allowed = await get(agentOf('orders'), '/b-only/x', await b.sign(orders.thumbprint));
    expect(allowed.status).toBe(200);
  });

  it('AS down: the cached opaque token still works, a new one gets 503 ERR_INTROSPECTION_UNAVAILABLE', async () => {
    const cached = (await tokens.get({ resource: PAYMENTS })).accessToken;
    expect((await get(agentOf('orders'), '/cached', cached)).status).toBe(200);
    tokens.invalidate();
    const fresh = (await tokens.get({ resource: PAYMENTS })).accessToken;
    expect(fresh).not.toBe(cached);
    await as.stop();
    try {
      // A new connection: the per-connection memo is not what serves it.
      expect((await get(agentOf('orders'), '/cached', cached)).status).toBe(200);
      const down = await get(agentOf('orders'), '/fresh', fresh);
      expect(down.status).toBe(503);
      expect(down.json?.['error']).toBe('ERR_INTROSPECTION_UNAVAILABLE');
      // RFC 9110 §10.2.3: the outage says when to retry (the error table's retryAfterSec).
      expect(down.headers['retry-after']).toBe('1');
      expect(down.body).not.toContain(fresh);
      // /readyz names the issuer whose introspection endpoint is down.
      const readyz = await fetch(`http://${sidecar.addresses.admin}/readyz`);
      expect(readyz.status).toBe(503);
      const body = (await readyz.json()) as { reasons: Record<string, string> };
      expect(body.reasons['issuers']).toContain(as.issuer);
    } finally {
      await as.start();
    }
    // Back without traffic: the readiness probe finds the AS again.
    await vi.waitFor(
      async () =>
        expect((await fetch(`http://${sidecar.addresses.admin}/readyz`)).status).toBe(200),
      { timeout: 15_000, interval: 100 },
    );
    expect((await get(agentOf('orders'), '/fresh', fresh)).status).toBe(200);
  });
});
