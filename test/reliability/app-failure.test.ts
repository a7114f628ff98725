import { readFileSync } from 'node:fs';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { TokenClient } from '../../src/token/token-client.js';
import { sourceOf } from '../support/as.js';
import { mtlsAgent, send } from '../support/http-fixtures.js';
import { connectionsOf, openSockets, settleOn } from '../support/reliability-handles.js';
import { MESH_PAYMENTS, counterOf, startMesh, type Mesh } from '../support/reliability-mesh.js';

const REQUESTS_PER_PHASE = 20;
const CONCURRENCY = 5;

let mesh: Mesh;
let source: StaticX509Source;
let tokens: TokenClient;
let token: string;

beforeAll(async () => {
  mesh = await startMesh({ withA: false, inboundLimits: { appTimeout: 300 } });
  source = sourceOf(mesh.pki.workloads['orders']!);
  tokens = new TokenClient({
    source,
    clientId: 'orders',
    issuer: mesh.as.issuer,
    ca: readFileSync(mesh.bundlePath, 'utf8'),
  });
  token = (await tokens.get({ resource: MESH_PAYMENTS })).accessToken;
});

afterAll(async () => {
  await tokens?.close();
  await source?.close();
  await mesh?.close();
});

/** `count` requests to `path`, `CONCURRENCY` at a time; returns "status code" per request. */
async function burst(agent: Agent, path: string, count: number): Promise<string[]> {
  const out: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const res = await send(agent, `${mesh.inboundB}${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const error = res.json?.['error'];
      out.push(typeof error === 'string' ? `${res.status} ${error}` : String(res.status));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

async function healthz(): Promise<number> {
  return (await fetch(`${mesh.adminB}/healthz`)).status;
}

const inboundConnections = async (): Promise<number> =>
  (await mesh.sidecarB.metrics.activeConnections.get()).values
    .filter((v) => v.labels.listener === 'inbound')
    .reduce((s, v) => s + v.value, 0);

describe('app down or slow behind the inbound sidecar', () => {
  it('answers 502 ERR_APP_UNREACHABLE / 504 ERR_APP_TIMEOUT, stays healthy, recovers, and leaks no sockets', async () => {
    const w = mesh.pki.workloads['orders']!;
    const app = mesh.appB;
    // Warm (JWKS fetched, token verified once), then let every idle connection go.
    const warm = mtlsAgent(w, w.bundlePem);
    expect(
      (await send(warm, `${mesh.inboundB}/warm`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(200);
    await warm.close();
    app.server.closeAllConnections();
    expect(await settleOn(inboundConnections, (n) => n === 0)).toBe(0);
    expect(
      await settleOn(
        () => connectionsOf(app.server),
        (n) => n === 0,
      ),
    ).toBe(0);
    const baseline = openSockets();

    const agent = mtlsAgent(w, w.bundlePem);
    // 1. App down: its port is closed.
    await new Promise<void>((resolve) => app.server.close(() => resolve()));
    const down = await burst(agent, '/down', REQUESTS_PER_PHASE);
    expect(await healthz()).toBe(200);
    // 2. App back on the same port: served again, no restart of the sidecar.
    await new Promise<void>((resolve) => app.server.listen(app.port, '127.0.0.1', resolve));
    const back = await burst(agent, '/back', REQUESTS_PER_PHASE);
    // 3. App slow: accepts the request and never answers.
    app.server.closeAllConnections();
    const seenBefore = app.seen.length;
    const slow = await burst(agent, '/slow', REQUESTS_PER_PHASE);
    expect(await healthz()).toBe(200);
    expect(mesh.sidecarB.ready()).toBe(true);

    expect(down).toEqual(Array(REQUESTS_PER_PHASE).fill('502 ERR_APP_UNREACHABLE'));
    expect(back).toEqual(Array(REQUESTS_PER_PHASE).fill('200'));
    expect(slow).toEqual(Array(REQUESTS_PER_PHASE).fill('504 ERR_APP_TIMEOUT'));
    expect(app.seen.length - seenBefore).toBe(REQUESTS_PER_PHASE);

    // The sidecar gave up each slow request's connection to the app (no leak per 504).
    const appConnections = await settleOn(
      () => connectionsOf(app.server),
      (n) => n === 0,
    );
    await agent.close();
    const inbound = await settleOn(inboundConnections, (n) => n === 0);
    const after = await settleOn(openSockets, (n) => n <= baseline);
    console.info(
      `app failure: ${down.length}×502, ${back.length}×200, ${slow.length}×504; sockets ${baseline} before, ${after} after; app connections left ${appConnections}; inbound connections left ${inbound}`,
    );
    expect(appConnections).toBe(0);
    expect(inbound).toBe(0);
    expect(after).toBeLessThanOrEqual(baseline);
    expect(await counterOf(mesh.sidecarB, 'inboundRequests', { code: 'ERR_APP_UNREACHABLE' })).toBe(
      REQUESTS_PER_PHASE,
    );
    expect(await counterOf(mesh.sidecarB, 'inboundRequests', { code: 'ERR_APP_TIMEOUT' })).toBe(
      REQUESTS_PER_PHASE,
    );
  });
});
