import { createServer, type Server } from 'node:net';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { runCli } from '../support/cli.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { startJwksServer } from '../support/jwks-server.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { tlsHandshake } from '../support/reliability-attacks.js';
import {
  startSidecarProcess,
  waitForLogLine,
  type SidecarProcess,
} from '../support/sidecar-process.js';

// Issue 18: what an Envoy/Linkerd operator looks for, through the built CLI: metrics named
// per Prometheus conventions and zero-initialised, TLS refusals by reason, connections
// refused by maxConnections, string log levels, and the listener named in a bind failure.

let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecar: SidecarProcess;
let limited: SidecarProcess;

const portOf = (address: string | undefined) => Number(address!.split(':')[1]);

async function configOf(name: string, extra = '', inboundPort = 0, adminPort = 0): Promise<string> {
  const payments = pki.workloads['payments']!;
  const jwksFile = await files.write(`${name}-jwks.json`, JSON.stringify(issuer.jwks()));
  return files.write(
    `${name}.yaml`,
    `identity: { certPath: ${payments.paths.cert}, keyPath: ${payments.paths.key}, bundlePath: ${payments.paths.ca} }
inbound:
  host: 127.0.0.1
  port: ${inboundPort}
  app: { url: "${app.url}" }
${extra}
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksFile: ${jwksFile} }
admin: { host: 127.0.0.1, port: ${adminPort} }
`,
  );
}

async function scrape(s: SidecarProcess): Promise<string> {
  const res = await request(`http://${s.addresses.admin}/metrics`);
  expect(res.statusCode).toBe(200);
  return res.body.text();
}

/** The value of one sample (`name{labels}`), or undefined when it is not exported. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A handshake left for the server to end (an immediate client close would look like a reset). */
function refusedHandshake(port: number, tls: ConnectionOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...tls });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not close the refused connection'));
    }, 10_000);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

beforeAll(async () => {
  [pki, issuer, app, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  [sidecar, limited] = await Promise.all([
    configOf('metrics').then((c) => startSidecarProcess(c)),
    configOf('limited', '  limits: { maxConnections: 1 }').then((c) => startSidecarProcess(c)),
  ]);
});

afterAll(async () => {
  await Promise.all([sidecar?.stop(), limited?.stop()]);
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

describe('certbound run: /metrics', () => {
  it('exports the operator metrics with Prometheus types, and every known counter from zero', async () => {
    const text = await scrape(sidecar);
    const types = Object.fromEntries(
      [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(types).toMatchObject({
      certbound_build_info: 'gauge',
      certbound_inbound_requests_total: 'counter',
      certbound_inbound_request_duration_seconds: 'histogram',
      certbound_app_request_duration_seconds: 'histogram',
      certbound_verify_duration_seconds: 'histogram',
      certbound_outbound_request_duration_seconds: 'histogram',
      certbound_tls_handshake_failures_total: 'counter',
      certbound_connections_refused_total: 'counter',
      certbound_jwks_refreshes_total: 'counter',
      certbound_jwks_keys: 'gauge',
      certbound_token_request_duration_seconds: 'histogram',
      certbound_introspection_request_duration_seconds: 'histogram',
      certbound_certificate_expiry_seconds: 'gauge',
    });
    expect(
      sample(text, `certbound_build_info{version="0.1.0",node="${process.versions.node}"}`),
    ).toBe(1);
    // Zero before anything happened: a rate() over them is 0, not "no data".
    for (const series of [
      'certbound_inbound_requests_total{result="ok",code="none"}',
      'certbound_inbound_requests_total{result="rejected",code="ERR_BINDING_MISMATCH"}',
      'certbound_inbound_requests_total{result="error",code="ERR_APP_UNREACHABLE"}',
      'certbound_tls_handshake_failures_total{listener="inbound",reason="untrusted_client_certificate"}',
      'certbound_tls_handshake_failures_total{listener="inbound",reason="other"}',
      'certbound_connections_refused_total{listener="inbound",reason="max_connections"}',
      'certbound_identity_rotations_total{result="ok"}',
      'certbound_token_request_duration_seconds_count{result="error"}',
    ])
      expect(sample(text, series), series).toBe(0);
    const workload = sample(text, 'certbound_certificate_expiry_seconds{source="workload"}');
    const bundle = sample(text, 'certbound_certificate_expiry_seconds{source="trust_bundle"}');
    expect(workload).toBeGreaterThan(0);
    expect(bundle).toBeGreaterThanOrEqual(workload!);
    // No label value comes from a peer: every label set is from the known, bounded lists.
    expect(text).not.toMatch(/remote|127\.0\.0\.1|spiffe:/);
  });

  it('a client without a certificate: counted by reason and logged at info with the reason', async () => {
    const orders = pki.workloads['orders']!;
    await refusedHandshake(portOf(sidecar.addresses.inbound), { ca: orders.bundlePem });
    const line = await waitForLogLine(
      sidecar,
      (l) => l['msg'] === 'TLS handshake refused' && l['reason'] === 'no_client_certificate',
    );
    expect(line['level']).toBe('info');
    const text = await scrape(sidecar);
    expect(
      sample(
        text,
        'certbound_tls_handshake_failures_total{listener="inbound",reason="no_client_certificate"}',
      ),
    ).toBe(1);
  });

  it('a certificate from another CA: reason untrusted_client_certificate', async () => {
    const stranger = await createTestPki(['mallory']);
    try {
      const m = stranger.workloads['mallory']!;
      await refusedHandshake(portOf(sidecar.addresses.inbound), {
        cert: m.certPem,
        key: m.keyPem,
        ca: pki.workloads['orders']!.bundlePem,
      });
      await waitForLogLine(
        sidecar,
        (l) =>
          l['msg'] === 'TLS handshake refused' && l['reason'] === 'untrusted_client_certificate',
      );
    } finally {
      await stranger.cleanup();
    }
  });

  it('a connection beyond maxConnections: counted and logged, not silently dropped', async () => {
    const orders = pki.workloads['orders']!;
    // One connection holds the only slot.
    const holder: TLSSocket = await new Promise((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port: portOf(limited.addresses.inbound),
        servername: 'localhost',
        cert: orders.certPem,
        key: orders.keyPem,
        ca: orders.bundlePem,
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    try {
      expect(
        await tlsHandshake(portOf(limited.addresses.inbound), {
          cert: orders.certPem,
          key: orders.keyPem,
          ca: orders.bundlePem,
        }),
      ).toMatch(/^refused/);
      const line = await waitForLogLine(
        limited,
        (l) => l['msg'] === 'connection refused: maxConnections reached',
      );
      expect(line).toMatchObject({ level: 'warn', reason: 'max_connections', maxConnections: 1 });
      expect(
        sample(
          await scrape(limited),
          'certbound_connections_refused_total{listener="inbound",reason="max_connections"}',
        ),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      holder.destroy();
    }
  });
});

describe('certbound run: JWKS refresh metrics', () => {
  it('counts fetches by issuer and result and exports the key count', async () => {
    const payments = pki.workloads['payments']!;
    const jwks = await startJwksServer(payments, issuer.jwks().keys);
    const config = await files.write(
      'remote.yaml',
      `identity: { certPath: ${payments.paths.cert}, keyPath: ${payments.paths.key}, bundlePath: ${payments.paths.ca} }
inbound: { host: 127.0.0.1, port: 0, app: { url: "${app.url}" } }
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksUri: "${jwks.url}", jwksCaFile: ${payments.paths.ca} }
admin: { host: 127.0.0.1, port: 0 }
`,
    );
    const remote = await startSidecarProcess(config);
    try {
      await jwks.waitForHits(1);
      // The metric is written right after the fetch completes: a bounded wait for it.
      let text = '';
      for (let i = 0; i < 100; i++) {
        text = await scrape(remote);
        if (
          (sample(text, `certbound_jwks_refreshes_total{issuer="${issuer.issuer}",result="ok"}`) ??
            0) >= 1
        )
          break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(
        sample(text, `certbound_jwks_refreshes_total{issuer="${issuer.issuer}",result="ok"}`),
      ).toBeGreaterThanOrEqual(1);
      expect(
        sample(text, `certbound_jwks_refreshes_total{issuer="${issuer.issuer}",result="error"}`),
      ).toBe(0);
      expect(sample(text, `certbound_jwks_keys{issuer="${issuer.issuer}"}`)).toBe(1);
    } finally {
      await remote.stop();
      await jwks.close();
    }
  });
});

describe('certbound run: a port already in use', () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it.each([
    ['inbound', (p: number) => configOf('busy-inbound', '', p, 0)],
    ['admin', (p: number) => configOf('busy-admin', '', 0, p)],
  ])('names the %s listener and its address in the EADDRINUSE failure', async (name, config) => {
    const result = await runCli(['run', '--config', await config(port)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`${name} listener cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
    );
  });
});
