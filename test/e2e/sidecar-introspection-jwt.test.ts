import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { startJwksServer, type TestJwksServer } from '../support/jwks-server.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

/**
 * The built CLI with `introspection.jwtResponse: true` (RFC 9701): the AS signs its answers
 * with its own key, but the issuer's `jwksUri` serves another key under the same `kid`, so
 * no answer verifies and no opaque token gets through.
 */
describe('certbound run with introspection.jwtResponse: answers are verified with the jwksUri', () => {
  let pki: TestPki;
  let as: DevAuthorizationServer;
  let app: RecordingApp;
  let files: Awaited<ReturnType<typeof tempDir>>;
  let jwks: TestJwksServer;
  let sidecar: SidecarProcess;
  let tokens: TokenClient;
  let closeSource: () => Promise<void>;
  let agent: Agent;

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
        { clientId: 'orders', spiffeId: w['orders']!.spiffeId },
        { clientId: 'payments', spiffeId: w['payments']!.spiffeId, introspector: true },
      ],
      resources: [
        { indicator: PAYMENTS, scopes: ['payments:read'], ttlSec: 300, format: 'opaque' },
      ],
    });
    agent = mtlsAgent(w['orders'], pki.ca.certPem);
    const asKeys = (await send(agent, as.jwksUri)).json as { keys?: JWK[] } | undefined;
    const kid = asKeys?.keys?.[0]?.kid;
    expect(kid).toBeDefined();
    const { publicKey } = await generateKeyPair('ES256');
    jwks = await startJwksServer(w['payments']!, [
      { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    ]);
    const config = await files.write(
      'jwt-introspection.yaml',
      `identity: { certPath: ${w['payments']!.paths.cert}, keyPath: ${w['payments']!.paths.key}, bundlePath: ${w['payments']!.paths.ca} }
shutdownGrace: 2s
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${app.url}" }
verify:
  issuers:
    - issuer: "${as.issuer}"
      audience: "${PAYMENTS}"
      jwksUri: "${jwks.url}"
      jwksCaFile: ${w['payments']!.paths.ca}
      introspection: { clientId: payments, jwtResponse: true }
admin: { host: 127.0.0.1, port: 0 }
`,
    );
    sidecar = await startSidecarProcess(config);
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
    await agent?.close();
    await sidecar?.stop();
    await tokens?.close();
    await closeSource?.();
    await jwks?.close();
    await as?.close();
    await app?.close();
    await Promise.all([pki?.cleanup(), files?.cleanup()]);
  });

  it('refuses an opaque token whose signed introspection answer does not verify: 503 ERR_INTROSPECTION_UNAVAILABLE', async () => {
    const opaque = (await tokens.get({ resource: PAYMENTS })).accessToken;
    const base = `https://127.0.0.1:${sidecar.addresses.inbound!.split(':').at(-1)}`;
    const hitsBefore = jwks.hits;
    const res = await send(agent, `${base}/x`, { headers: { authorization: `Bearer ${opaque}` } });
    expect(res.status).toBe(503);
    expect(res.json?.['error']).toBe('ERR_INTROSPECTION_UNAVAILABLE');
    expect(String(res.json?.['message'])).toContain('JWT signature verification failed');
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).not.toContain(opaque);
    expect(jwks.hits).toBeGreaterThan(hitsBefore);
    expect(app.seen).toHaveLength(0);
  });
});
