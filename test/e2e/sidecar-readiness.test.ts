import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { startJwksServer } from '../support/jwks-server.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { curl, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

/** `/readyz` of the built CLI sidecar when the certificate, the JWKS or the AS go bad. */
let pki: TestPki;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let k1: TestIssuer;
let stranger: TestIssuer;
const running: SidecarProcess[] = [];

interface Readyz {
  status: number;
  body: { ready: boolean; checks: Record<string, boolean>; reasons?: Record<string, string> };
}

beforeAll(async () => {
  [pki, app, files, k1, stranger] = await Promise.all([
    createTestPki(['orders', 'payments', 'as']),
    startRecordingApp(),
    tempDir(),
    createTestIssuer('k1'),
    createTestIssuer('k-unpublished'),
  ]);
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

async function start(name: string, yaml: string): Promise<SidecarProcess> {
  const sidecar = await startSidecarProcess(await files.write(`${name}.yaml`, yaml));
  running.push(sidecar);
  return sidecar;
}

async function readyz(sidecar: SidecarProcess): Promise<Readyz> {
  const res = await fetch(`http://${sidecar.addresses.admin}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz['body'] };
}

/** Polls `/readyz` until it answers `status` (bounded: 600 polls, 50 ms apart). */
async function readyzUntil(sidecar: SidecarProcess, status: number): Promise<Readyz> {
  let last = await readyz(sidecar);
  for (let i = 0; i < 600 && last.status !== status; i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await readyz(sidecar);
  }
  return last;
}

/** Log lines (JSON) whose message matches. */
function logged(sidecar: SidecarProcess, match: RegExp): Array<{ level: number; msg: string }> {
  return sidecar.lines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .filter((l) => match.test(l.msg));
}

/** An inbound-only sidecar over `workload`, verifying `verify` (YAML flow mapping body). */
function inboundConfig(workload: string, verify: string): string {
  const w = pki.workloads[workload]!;
  return `identity: { certPath: ${w.paths.cert}, keyPath: ${w.paths.key}, bundlePath: ${w.paths.ca} }
inbound: { host: 127.0.0.1, port: 0, app: { url: "${app.url}" } }
verify: { issuer: "${k1.issuer}", audience: "${k1.audience}", ${verify} }
admin: { host: 127.0.0.1, port: 0 }
`;
}

function callInbound(sidecar: SidecarProcess, token: string): ReturnType<typeof curl> {
  const orders = pki.workloads['orders']!;
  return curl([
    '--cacert',
    `${pki.dir}/bundle.pem`,
    '--cert',
    orders.paths.cert,
    '--key',
    orders.paths.key,
    '-H',
    `Authorization: Bearer ${token}`,
    `https://localhost:${sidecar.addresses.inbound!.split(':')[1]}/hello`,
  ]);
}

describe('certbound run: /readyz reflects the current state', () => {
  it('regression: the workload certificate expires → /readyz 503 naming certificate and its notAfter; one warning before, one error at expiry', async () => {
    // 10 s from now (notBefore is backdated 60 s on top): inside the default warning window.
    const short = await pki.issue('short', { ttlMs: 10_000 });
    const jwksFile = await files.write('k1.json', JSON.stringify(k1.jwks()));
    const sidecar = await start('short', inboundConfig('short', `jwksFile: ${jwksFile}`));
    expect((await readyzUntil(sidecar, 200)).status).toBe(200);
    const metrics = await (await fetch(`http://${sidecar.addresses.admin}/metrics`)).text();
    expect(metrics).toMatch(/^certbound_identity_expiring 1$/m);

    const after = await readyzUntil(sidecar, 503);
    expect(after.status).toBe(503);
    expect(after.body.checks['certificate']).toBe(false);
    const notAfter = new Date(new X509Certificate(short.certPem).validTo).toISOString();
    expect(after.body.reasons?.['certificate']).toContain(`expired at ${notAfter}`);
    await new Promise((r) => setTimeout(r, 300)); // the logger flushes every 250 ms
    const warnings = logged(sidecar, /has not been renewed/);
    expect(warnings.map((l) => l.level)).toEqual(['warn']);
    expect(logged(sidecar, /certificate expired at/).map((l) => l.level)).toEqual(['error']);
  });

  it('regression: JWKS outage longer than jwksMaxAge → /readyz 503 naming jwks, the URL and the status; unknown kid → 503 ERR_JWKS_UNAVAILABLE; recovery → 200', async () => {
    const jwks = await startJwksServer(pki.workloads['as']!, [k1.publicJwk]);
    try {
      const sidecar = await start(
        'outage',
        inboundConfig(
          'payments',
          `jwksUri: "${jwks.url}", jwksCaFile: ${pki.dir}/bundle.pem, jwksMaxAge: 1s, jwksCooldown: 200ms`,
        ),
      );
      expect((await readyzUntil(sidecar, 200)).status).toBe(200);
      const orders = pki.workloads['orders']!;
      expect((await callInbound(sidecar, await k1.sign(orders.thumbprint))).status).toBe(200);

      jwks.mode = 'not-found';
      const down = await readyzUntil(sidecar, 503);
      expect(down.status).toBe(503);
      expect(down.body.checks['jwks']).toBe(false);
      expect(down.body.reasons?.['jwks']).toContain(jwks.url);
      expect(down.body.reasons?.['jwks']).toContain('HTTP 404');

      // A kid the sidecar has never seen: an outage, not a bad token.
      const unknownKid = await callInbound(sidecar, await stranger.sign(orders.thumbprint));
      expect(unknownKid.status).toBe(503);
      expect((JSON.parse(unknownKid.body) as { error: string }).error).toBe('ERR_JWKS_UNAVAILABLE');
      // Tokens signed by the cached key still verify.
      const known = await callInbound(sidecar, await k1.sign(orders.thumbprint, { jti: 'new' }));
      expect(known.status).toBe(200);

      jwks.mode = 'ok';
      expect((await readyzUntil(sidecar, 200)).status).toBe(200);
    } finally {
      await jwks.close();
    }
  });

  it('regression: a JWKS URL answering 404, then non-JSON, is reported with the URL and the problem: /readyz and one error line per distinct failure, retried with backoff', async () => {
    const jwks = await startJwksServer(pki.workloads['as']!, [k1.publicJwk]);
    jwks.mode = 'not-found';
    try {
      const sidecar = await start(
        'bad-jwks',
        inboundConfig('payments', `jwksUri: "${jwks.url}", jwksCaFile: ${pki.dir}/bundle.pem`),
      );
      await jwks.waitForHits(3); // the warm-up keeps retrying
      const notFound = await readyz(sidecar);
      expect(notFound.status).toBe(503);
      expect(notFound.body.reasons?.['jwks']).toContain(`JWKS ${jwks.url} answered HTTP 404`);
      await new Promise((r) => setTimeout(r, 300)); // the logger flushes every 250 ms
      const lines404 = logged(sidecar, /JWKS not usable yet.*HTTP 404/);
      expect(lines404.map((l) => l.level)).toEqual(['error']);
      expect(lines404[0]!.msg).toContain(jwks.url);

      jwks.mode = 'not-json';
      await jwks.waitForHits(jwks.hits + 2);
      expect((await readyz(sidecar)).body.reasons?.['jwks']).toMatch(/that is not JSON/);
      await new Promise((r) => setTimeout(r, 300));
      expect(logged(sidecar, /JWKS not usable yet.*not JSON/).map((l) => l.level)).toEqual([
        'error',
      ]);
      expect(logged(sidecar, /not reachable yet/)).toEqual([]);

      jwks.mode = 'ok';
      expect((await readyzUntil(sidecar, 200)).status).toBe(200);
    } finally {
      await jwks.close();
    }
  });

  it('regression: the AS answers invalid_client → /readyz names tokenEndpoint and invalid_client; logged once at error level while retried', async () => {
    const as: DevAuthorizationServer = await startAuthorizationServer({
      ca: pki.ca,
      clients: [{ clientId: 'orders', spiffeId: pki.workloads['orders']!.spiffeId }],
      resources: [{ indicator: 'https://payments.demo.local', scopes: ['payments:read'] }],
    });
    try {
      const w = pki.workloads['orders']!;
      const sidecar = await start(
        'wrong-client',
        `identity: { certPath: ${w.paths.cert}, keyPath: ${w.paths.key}, bundlePath: ${w.paths.ca} }
token: { issuer: "${as.issuer}", clientId: not-registered, asCaFile: ${pki.dir}/bundle.pem }
outbound:
  port: 0
  upstreams:
    - { name: payments, url: "https://localhost:1", resource: "https://payments.demo.local" }
admin: { host: 127.0.0.1, port: 0 }
`,
      );
      const tokenRequests = (): number => as.requestCounts.token + as.requestCounts.mtlsToken;
      for (let i = 0; i < 400 && tokenRequests() < 3; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(tokenRequests()).toBeGreaterThanOrEqual(3);
      const status = await readyz(sidecar);
      expect(status.status).toBe(503);
      expect(status.body.checks['tokenEndpoint']).toBe(false);
      expect(status.body.reasons?.['tokenEndpoint']).toContain('invalid_client');
      await new Promise((r) => setTimeout(r, 300)); // the logger flushes every 250 ms
      expect(logged(sidecar, /invalid_client/).map((l) => l.level)).toEqual(['error']);
    } finally {
      await as.close();
    }
  });
});
