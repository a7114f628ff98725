import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { CertboundConfig } from '../../src/config/schema.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import { mtlsAgent, send, startRecordingApp, type RecordingApp } from '../support/http-fixtures.js';
import { startJwksServer, type TestJwksServer } from '../support/jwks-server.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestPki, type TestPki } from '../support/pki.js';

// Issue 18, in process: what a reload swaps (log level of every component, the verifier)
// and that a verify section whose keys cannot be fetched is refused before the swap.

let pki: TestPki;
let asA: TestIssuer;
let asB: TestIssuer;
let jwksA: TestJwksServer;
let jwksB: TestJwksServer;
let app: RecordingApp;
let sidecar: Sidecar | undefined;

beforeAll(async () => {
  [pki, asA, asB, app] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer('a1', 'https://as-a.test'),
    createTestIssuer('b1', 'https://as-b.test'),
    startRecordingApp(),
  ]);
  const p = pki.workloads['payments']!;
  [jwksA, jwksB] = await Promise.all([
    startJwksServer(p, asA.jwks().keys),
    startJwksServer(p, asB.jwks().keys),
  ]);
});
afterAll(async () => {
  await sidecar?.close();
  await Promise.all([jwksA?.close(), jwksB?.close(), app?.close()]);
  await pki?.cleanup();
});

function configOf(as: TestIssuer, jwks: TestJwksServer, logLevel = 'info'): CertboundConfig {
  const p = pki.workloads['payments']!;
  return parseConfig(
    {
      logLevel,
      identity: { certPath: p.paths.cert, keyPath: p.paths.key, bundlePath: p.paths.ca },
      inbound: { host: '127.0.0.1', port: 0, app: { url: app.url } },
      verify: {
        issuer: as.issuer,
        audience: as.audience,
        jwksUri: jwks.url,
        jwksCaFile: p.paths.ca,
      },
    },
    {},
  );
}

describe('Sidecar.reload', () => {
  it('swaps the log level of every component and the verifier; refuses keys it cannot fetch', async () => {
    const { logger, lines } = captureLogs();
    const s = await startSidecar(configOf(asA, jwksA), { logger, processMetrics: false });
    sidecar = s;
    await s.whenReady();
    const o = pki.workloads['orders']!;
    const agent = mtlsAgent(o, o.bundlePem);
    const url = `https://localhost:${s.inbound!.port}/x`;
    const call = async (as: TestIssuer): Promise<number> =>
      (
        await send(agent, url, {
          headers: { authorization: `Bearer ${await as.sign(o.thumbprint)}` },
        })
      ).status;
    const accessLines = (): number =>
      lines.filter(
        (l) => l['component'] === 'inbound' && (l['level'] === 'info' || l['level'] === 30),
      ).length;

    expect(await call(asA)).toBe(200);
    expect(await call(asB)).toBe(401);
    const logged = accessLines();
    expect(logged).toBeGreaterThan(0);

    // Keys that cannot be fetched: refused, nothing changes (A still accepted, level still info).
    jwksB.mode = 'not-found';
    const refused = await s.reload(async () => configOf(asB, jwksB, 'warn'));
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error.code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(await call(asA)).toBe(200);
    expect(accessLines()).toBeGreaterThan(logged);

    // Fetchable: B's keys are fetched before the swap, so its first token is accepted.
    jwksB.mode = 'ok';
    const hitsBefore = jwksB.hits;
    const done = await s.reload(async () => configOf(asB, jwksB, 'warn'));
    expect(done).toEqual({ ok: true, applied: ['logLevel', 'verify'], restartRequired: [] });
    expect(jwksB.hits).toBeGreaterThan(hitsBefore);
    const quiet = accessLines();
    expect(await call(asB)).toBe(200);
    expect(await call(asA)).toBe(401);
    // The inbound component's child logger follows the root's new level.
    expect(accessLines()).toBe(quiet);
    const metrics = await s.metrics.registry.getSingleMetricAsString(
      'certbound_config_reloads_total',
    );
    expect(metrics).toContain('result="success"} 1');
    expect(metrics).toContain('result="failure"} 1');
    await agent.close();
  });
});
