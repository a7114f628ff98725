import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { issueWorkload } from '../../src/devca/dev-ca-store.js';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { runCli } from '../support/cli.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { curl, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

const PAYMENTS = 'https://payments.demo.local';
let pki: TestPki;
let as: DevAuthorizationServer;
let appB: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecarA: SidecarProcess;
let sidecarB: SidecarProcess;
let configA: string;
let inboundB: string;
let outboundA: string;

function tokenCount(): number {
  return as.requestCounts.token + as.requestCounts.mtlsToken;
}

beforeAll(async () => {
  [pki, appB, files] = await Promise.all([
    createTestPki(['orders', 'payments', 'attacker']),
    startRecordingApp(),
    tempDir(),
  ]);
  const w = pki.workloads;
  as = await startAuthorizationServer({
    ca: pki.ca,
    clients: [
      { clientId: 'orders', spiffeId: w['orders']!.spiffeId },
      { clientId: 'attacker', spiffeId: w['attacker']!.spiffeId },
    ],
    resources: [{ indicator: PAYMENTS, scopes: ['payments:read', 'payments:write'] }],
  });
  const bundle = `${pki.dir}/bundle.pem`;
  const configB = await files.write(
    'b.yaml',
    `identity: { certPath: ${w['payments']!.paths.cert}, keyPath: ${w['payments']!.paths.key}, bundlePath: ${w['payments']!.paths.ca}, pollInterval: 200ms }
shutdownGrace: 10s
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${appB.url}" }
  limits: { maxHeaderBytes: 8192 }
  policies:
    - { prefix: /ops, spiffeIds: [spiffe://demo.local/ns/default/sa/ops] }
verify: { issuer: "${as.issuer}", audience: "${PAYMENTS}", jwksUri: "${as.jwksUri}", jwksCaFile: ${bundle} }
admin: { host: 127.0.0.1, port: 0 }
`,
  );
  sidecarB = await startSidecarProcess(configB);
  inboundB = sidecarB.addresses.inbound!;
  configA = await files.write(
    'a.yaml',
    `identity: { certPath: ${w['orders']!.paths.cert}, keyPath: ${w['orders']!.paths.key}, bundlePath: ${w['orders']!.paths.ca}, pollInterval: 200ms }
token: { issuer: "${as.issuer}", clientId: orders, asCaFile: ${bundle} }
outbound:
  port: 0
  upstreams:
    - { name: payments, url: "https://localhost:${inboundB.split(':')[1]}", resource: "${PAYMENTS}", scope: payments:read, spiffeId: "${w['payments']!.spiffeId}" }
    - { name: impostor, url: "https://localhost:${inboundB.split(':')[1]}", resource: "${PAYMENTS}", spiffeId: "spiffe://demo.local/ns/default/sa/ledger" }
admin: { host: 127.0.0.1, port: 0 }
`,
  );
  sidecarA = await startSidecarProcess(configA);
  outboundA = sidecarA.addresses.outbound!;
  for (const sidecar of [sidecarA, sidecarB]) {
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await fetch(`http://${sidecar.addresses.admin}/readyz`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
  }
});

afterAll(async () => {
  await Promise.all([sidecarA?.stop(), sidecarB?.stop()]);
  await appB?.close();
  await as?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

function curlB(
  cert: string | undefined,
  headers: string[],
  path = '/stream',
): Promise<ReturnType<typeof curl> extends Promise<infer R> ? R : never> {
  const w = cert === undefined ? undefined : pki.workloads[cert]!;
  return curl([
    '--cacert',
    `${pki.dir}/bundle.pem`,
    ...(w !== undefined ? ['--cert', w.paths.cert, '--key', w.paths.key] : []),
    ...headers.flatMap((h) => ['-H', h]),
    `https://localhost:${inboundB.split(':')[1]}${path}`,
  ]);
}

describe('certbound run: two sidecars, oidc-provider, curl', () => {
  let token = '';

  it('app → sidecar A → sidecar B → app B with a bound token from oidc-provider, cached', async () => {
    appB.seen.length = 0;
    const before = tokenCount();
    for (let i = 0; i < 5; i++) {
      const res = await curl([`http://${outboundA}/payments/hello?i=${i}`]);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ path: `/hello?i=${i}` });
    }
    expect(appB.seen).toHaveLength(5);
    expect(appB.seen[0]!.headers['x-certbound-client-id']).toBe('orders');
    expect(appB.seen[0]!.headers['x-certbound-spiffe-id']).toBe(pki.workloads['orders']!.spiffeId);
    // Readiness already fetched the token: five calls, no new token request.
    expect(tokenCount() - before).toBe(0);
    const metrics = await (await fetch(`http://${sidecarA.addresses.admin}/metrics`)).text();
    expect(metrics).toMatch(
      /certbound_outbound_requests_total\{upstream="payments",result="ok"\} 5/,
    );
    const unknown = await curl([`http://${outboundA}/nowhere/x`]);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error).toBe('ERR_UPSTREAM_UNKNOWN');
    const impostor = await curl([`http://${outboundA}/impostor/x`]);
    expect(impostor.status).toBe(502);
    expect(JSON.parse(impostor.body).error).toBe('ERR_UPSTREAM_IDENTITY');
  });

  it('curl with the right certificate reaches app B; the response arrives unchanged', async () => {
    const printed = await runCli(['token', '--config', configA, '--upstream', 'payments'], {
      timeoutMs: 20_000,
    });
    expect(printed.code).toBe(0);
    token = printed.stdout.trim();
    appB.seen.length = 0;
    const res = await curlB('orders', [
      `Authorization: Bearer ${token}`,
      'x-certbound-client-id: admin',
    ]);
    expect(res.status).toBe(207);
    expect(res.headers['x-app']).toBe('yes');
    expect(res.body).toBe('one,two,three');
    expect(appB.seen).toHaveLength(1);
    expect(appB.seen[0]!.headers['x-certbound-client-id']).toBe('orders');
    expect(appB.seen[0]!.headers['authorization']).toBeUndefined();
  });

  it('refuses the attack matrix; app B sees nothing', async () => {
    appB.seen.length = 0;
    const cases: Array<[string | undefined, string[], string, number, string]> = [
      ['attacker', [`Authorization: Bearer ${token}`], '/x', 401, 'ERR_BINDING_MISMATCH'],
      ['orders', [], '/x', 401, 'ERR_TOKEN_MISSING'],
      ['orders', ['Authorization: Basic b3JkZXJzOnM='], '/x', 400, 'ERR_INVALID_REQUEST'],
      [
        'orders',
        [`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`],
        '/x',
        400,
        'ERR_INVALID_REQUEST',
      ],
      [
        'orders',
        [`Authorization: Bearer ${token}`],
        '/x?access_token=abc',
        400,
        'ERR_INVALID_REQUEST',
      ],
      ['orders', ['Authorization: Bearer abc.def'], '/x', 401, 'ERR_TOKEN_MALFORMED'],
      ['orders', [`Authorization: Bearer ${token}`], '/ops/x', 403, 'ERR_POLICY_DENIED'],
      [
        'orders',
        [`Authorization: Bearer ${token}`, `x-pad: ${'a'.repeat(10_000)}`],
        '/x',
        431,
        'ERR_HEADERS_TOO_LARGE',
      ],
    ];
    for (const [cert, headers, path, status, code] of cases) {
      const res = await curlB(cert, headers, path);
      expect([res.status, JSON.parse(res.body).error]).toEqual([status, code]);
    }
    const noCert = await curlB(undefined, [`Authorization: Bearer ${token}`]);
    expect(noCert.exitCode).not.toBe(0);
    expect(noCert.status).toBe(0);
    expect(appB.seen).toHaveLength(0);
  });

  it('rotates both certificates during a stream of requests with zero failures', async () => {
    const oldThumb = pki.workloads['orders']!.thumbprint;
    let ok = 0;
    const failures: string[] = [];
    let rotated = false;
    let newThumb = '';
    const deadline = Date.now() + 20_000;
    for (let i = 0; Date.now() < deadline && i < 400; i++) {
      const res = await curl([`http://${outboundA}/payments/r${i}`]);
      if (res.status === 200) ok++;
      else failures.push(`${res.status} ${res.body.slice(0, 120)}`);
      if (i === 10) {
        const [o] = await Promise.all([
          issueWorkload(pki.dir, { name: 'orders', spiffeId: pki.workloads['orders']!.spiffeId }),
          issueWorkload(pki.dir, {
            name: 'payments',
            spiffeId: pki.workloads['payments']!.spiffeId,
          }),
        ]);
        newThumb = thumbprintOf(o.certPem);
        rotated = true;
      }
      const last = appB.seen.at(-1);
      if (rotated && last?.headers['x-certbound-cert-thumbprint'] === newThumb && i > 60) break;
    }
    console.log(`rotation stream: ${ok} ok, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(newThumb).not.toBe(oldThumb);
    expect(appB.seen.at(-1)!.headers['x-certbound-cert-thumbprint']).toBe(newThumb);
    // Sidecar B serves its new certificate too.
    const served = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: Number(inboundB.split(':')[1]),
        servername: 'localhost',
        ca: pki.workloads['orders']!.bundlePem,
        cert: readFileSync(pki.workloads['orders']!.paths.cert),
        key: readFileSync(pki.workloads['orders']!.paths.key),
      });
      socket.once('secureConnect', () => {
        resolve(thumbprintOf(socket.getPeerX509Certificate()!));
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(served).toBe(thumbprintOf(readFileSync(pki.workloads['payments']!.paths.cert, 'utf8')));
    expect(served).not.toBe(pki.workloads['payments']!.thumbprint);
  });

  it('drains on SIGTERM: an in-flight slow request completes, new connections are refused, exit 0', async () => {
    const printed = await runCli(['token', '--config', configA, '--upstream', 'payments'], {
      timeoutMs: 20_000,
    });
    const fresh = printed.stdout.trim();
    const before = appB.seen.length;
    const slow = curlB('orders', [`Authorization: Bearer ${fresh}`], '/slow-ok');
    // Wait until the app holds the request, then signal.
    const deadline = Date.now() + 10_000;
    while (appB.seen.length === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(appB.seen.length).toBe(before + 1);
    sidecarB.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const refused = await curlB('orders', [`Authorization: Bearer ${fresh}`], '/x');
    expect(refused.exitCode).not.toBe(0);
    const done = await slow;
    expect(done.status).toBe(200);
    expect(done.body).toBe('slow done');
    expect(await sidecarB.exited).toBe(0);
  });
});
