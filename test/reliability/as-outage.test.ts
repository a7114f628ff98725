import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counterOf, startMesh, type Mesh } from '../support/reliability-mesh.js';

const SHORT_TTL_SEC = 3;
const TIME_LIMIT_MS = 30_000;

let mesh: Mesh;
let agent: Agent;

beforeAll(async () => {
  mesh = await startMesh({ shortTtlSec: SHORT_TTL_SEC });
  agent = new Agent({ keepAliveTimeout: 10_000 });
});

afterAll(async () => {
  await agent?.close();
  await mesh?.close();
});

async function call(upstream: string, i: number): Promise<{ status: number; error?: string }> {
  const res = await request(`${mesh.outboundA}/${upstream}/o${i}`, { dispatcher: agent });
  const text = await res.body.text();
  let error: string | undefined;
  try {
    error = (JSON.parse(text) as { error?: string }).error;
  } catch {
    error = undefined;
  }
  return { status: res.statusCode, ...(error !== undefined ? { error } : {}) };
}

describe('authorization server outage (dev AS stopped and restarted on the same port)', () => {
  it('an outage shorter than the token lifetime: 0 failed calls through the outbound proxy', async () => {
    // Warm: a token is cached (300 s lifetime).
    expect((await call('payments', 0)).status).toBe(200);
    const tokenRequestsBefore = mesh.as.requestCounts.mtlsToken + mesh.as.requestCounts.token;
    await mesh.as.stop();
    const outcomes: string[] = [];
    try {
      for (let i = 1; i <= 100; i++) {
        const r = await call('payments', i);
        outcomes.push(r.status === 200 ? 'ok' : `${r.status} ${r.error}`);
      }
    } finally {
      await mesh.as.start();
    }
    console.info(
      `short AS outage: ${outcomes.filter((o) => o === 'ok').length}/${outcomes.length} calls ok`,
    );
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
    expect(outcomes).toHaveLength(100);
    // Served from the cached token: the AS was not needed.
    expect(mesh.as.requestCounts.mtlsToken + mesh.as.requestCounts.token).toBe(tokenRequestsBefore);
  });

  it('an outage longer than the token lifetime: 503 ERR_AS_UNAVAILABLE, then recovery without restart when the AS returns', async () => {
    const sidecarA = mesh.sidecarA!;
    const first = await call('short', 0);
    expect(first.status).toBe(200);
    await mesh.as.stop();
    const deadline = Date.now() + TIME_LIMIT_MS;
    const during: Array<{ status: number; error?: string }> = [];
    let unavailable: { status: number; error?: string } | undefined;
    try {
      // Bounded: the cached short-lived token serves until it expires, then calls fail clearly.
      for (let i = 1; unavailable === undefined && Date.now() < deadline; i++) {
        const r = await call('short', i);
        during.push(r);
        if (r.status !== 200) unavailable = r;
        else await new Promise((res) => setTimeout(res, 100));
      }
      expect(unavailable).toEqual({ status: 503, error: 'ERR_AS_UNAVAILABLE' });
      // Every call during the outage was either served (cached token) or that clear 503.
      const others = during.filter(
        (r) => r.status !== 200 && !(r.status === 503 && r.error === 'ERR_AS_UNAVAILABLE'),
      );
      expect(others).toEqual([]);
      // And it keeps saying so while the AS is away.
      for (let i = 0; i < 5; i++) expect(await call('short', 1000 + i)).toEqual(unavailable);
    } finally {
      await mesh.as.start();
    }
    // Recovery: same sidecar process, no restart; bounded by the client's retry backoff.
    let recovered: { status: number } | undefined;
    let attempts = 0;
    while (recovered === undefined && Date.now() < deadline) {
      attempts++;
      const r = await call('short', 2000 + attempts);
      if (r.status === 200) recovered = r;
      else {
        expect(r).toEqual({ status: 503, error: 'ERR_AS_UNAVAILABLE' });
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    console.info(
      `long AS outage: ${during.filter((r) => r.status === 200).length} calls served from the cached token, then 503 ERR_AS_UNAVAILABLE; recovered after ${attempts} attempt(s)`,
    );
    expect(recovered?.status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await call('short', 3000 + i)).status).toBe(200);
    // The inbound side never saw a bad token; the outbound side counted its refusals.
    expect(await counterOf(mesh.sidecarB, 'inboundRequests', { result: 'rejected' })).toBe(0);
    expect(
      await counterOf(sidecarA, 'outboundRequests', {
        upstream: 'short',
        result: 'ERR_AS_UNAVAILABLE',
      }),
    ).toBeGreaterThanOrEqual(6);
    expect(sidecarA.ready()).toBe(true);
  });
});
