import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { curl, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

const PAYMENTS = 'https://payments.demo.local';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let pki: TestPki;
let as: DevAuthorizationServer;
let appB: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecarA: SidecarProcess;
let sidecarB: SidecarProcess;
let outboundA: string;

/** The JSON log lines of `sidecar` with `msg`, parsed. */
function logLines(sidecar: SidecarProcess, msg: string): Array<Record<string, unknown>> {
  return sidecar.lines
    .filter((l) => l.includes(`"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits (bounded, on the process's own output) for a log line of `sidecar` that matches. */
function logLine(
  sidecar: SidecarProcess,
  msg: string,
  match: (line: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const stdout = sidecar.child.stdout!;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const line = logLines(sidecar, msg).find(match);
      if (line === undefined) return;
      clearTimeout(timer);
      stdout.off('data', check);
      resolve(line);
    };
    const timer = setTimeout(() => {
      stdout.off('data', check);
      reject(new Error(`no "${msg}" line matched within 10 s`));
    }, 10_000);
    stdout.on('data', check);
    check();
  });
}

beforeAll(async () => {
  [pki, appB, files] = await Promise.all([
    createTestPki(['orders', 'payments']),
    startRecordingApp(),
    tempDir(),
  ]);
  const w = pki.workloads;
  as = await startAuthorizationServer({
    ca: pki.ca,
    clients: [{ clientId: 'orders', spiffeId: w['orders']!.spiffeId }],
    resources: [{ indicator: PAYMENTS, scopes: ['payments:read'] }],
  });
  const bundle = `${pki.dir}/bundle.pem`;
  sidecarB = await startSidecarProcess(
    await files.write(
      'b.yaml',
      `identity: { certPath: ${w['payments']!.paths.cert}, keyPath: ${w['payments']!.paths.key}, bundlePath: ${w['payments']!.paths.ca} }
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${appB.url}" }
  policies:
    - { prefix: /admin, scopes: [payments:admin] }
verify: { issuer: "${as.issuer}", audience: "${PAYMENTS}", jwksUri: "${as.jwksUri}", jwksCaFile: ${bundle} }
admin: { host: 127.0.0.1, port: 0 }
`,
    ),
  );
  const portB = sidecarB.addresses.inbound!.split(':')[1];
  sidecarA = await startSidecarProcess(
    await files.write(
      'a.yaml',
      `identity: { certPath: ${w['orders']!.paths.cert}, keyPath: ${w['orders']!.paths.key}, bundlePath: ${w['orders']!.paths.ca} }
token: { issuer: "${as.issuer}", clientId: orders, asCaFile: ${bundle} }
outbound:
  port: 0
  upstreams:
    - { name: payments, url: "https://localhost:${portB}", resource: "${PAYMENTS}", scope: payments:read, spiffeId: "${w['payments']!.spiffeId}" }
admin: { host: 127.0.0.1, port: 0 }
`,
    ),
  );
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

describe('x-fapi-interaction-id: app A → sidecar A → sidecar B → app B', () => {
  it("propagates the app's id end to end, back to app A, and logs it on both sidecars", async () => {
    const id = '5d7c1f2e-8a9b-4c3d-9e0f-1a2b3c4d5e6f';
    const res = await curl([
      `http://${outboundA}/payments/hello`,
      '-H',
      `x-fapi-interaction-id: ${id}`,
    ]);
    expect(res.status).toBe(200);
    expect(res.headers['x-fapi-interaction-id']).toBe(id);
    expect(appB.seen.at(-1)!.headers['x-fapi-interaction-id']).toBe(id);
    const out = await logLine(sidecarA, 'outbound request', (l) => l['interactionId'] === id);
    expect(out['status']).toBe(200);
    const inb = await logLine(sidecarB, 'inbound request', (l) => l['interactionId'] === id);
    expect(inb['clientId']).toBe('orders');
  });

  it('mints one at sidecar A when app A sent none: app B, both logs and the answer share it', async () => {
    const res = await curl([`http://${outboundA}/payments/minted`]);
    expect(res.status).toBe(200);
    const minted = res.headers['x-fapi-interaction-id']!;
    expect(minted).toMatch(UUID);
    expect(appB.seen.at(-1)!.headers['x-fapi-interaction-id']).toBe(minted);
    await logLine(sidecarA, 'outbound request', (l) => l['interactionId'] === minted);
    await logLine(sidecarB, 'inbound request', (l) => l['interactionId'] === minted);
  });

  it("carries the id on sidecar B's refusal back through sidecar A", async () => {
    const id = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    const before = appB.seen.length;
    const res = await curl([
      `http://${outboundA}/payments/admin/x`,
      '-H',
      `x-fapi-interaction-id: ${id}`,
    ]);
    expect([res.status, JSON.parse(res.body).error]).toEqual([403, 'ERR_INSUFFICIENT_SCOPE']);
    expect(res.headers['www-authenticate']).toContain('insufficient_scope');
    expect(res.headers['x-fapi-interaction-id']).toBe(id);
    expect(appB.seen.length).toBe(before);
    const inb = await logLine(sidecarB, 'inbound request', (l) => l['interactionId'] === id);
    expect(inb['code']).toBe('ERR_INSUFFICIENT_SCOPE');
  });

  it('carries a fresh id on sidecar A’s own refusal (unknown upstream)', async () => {
    const res = await curl([`http://${outboundA}/nowhere/x`, '-H', 'x-fapi-interaction-id: bogus']);
    expect(res.status).toBe(404);
    expect(res.headers['x-fapi-interaction-id']).toMatch(UUID);
  });
});
