import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { TokenClient } from '../../src/token/token-client.js';
import { PAYMENTS, sourceOf, startTestAs, type AsFixture } from '../support/as.js';

/** TokenClient.warmUp()/ready() against a real oidc-provider. */
let fx: AsFixture;
let source: StaticX509Source;
const clients: TokenClient[] = [];

beforeAll(async () => {
  fx = await startTestAs({
    resources: [{ indicator: PAYMENTS, scopes: ['payments:read'], ttlSec: 1 }],
  });
  source = sourceOf(fx.pki.workloads['orders']!);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await source?.close();
  await fx?.close();
});

function clientFor(
  clientId: string,
  lines: Array<{ level: number; msg: string; details?: Record<string, unknown> }> = [],
): TokenClient {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const t of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(t) as { level: number; msg: string });
      done();
    },
  });
  const c = new TokenClient({
    source,
    clientId,
    issuer: fx.as.issuer,
    ca: fx.pki.ca.certPem,
    minBackoffMs: 20,
    maxBackoffMs: 40,
    logger: pino({ level: 'info' }, stream),
  });
  clients.push(c);
  return c;
}

describe('TokenClient readiness', () => {
  it('nothing warmed up → ready; warmed-up request → not ready until its token is obtained', async () => {
    const c = clientFor('orders');
    expect(c.ready()).toEqual({ ok: true });
    const warm = c.warmUp([{ resource: PAYMENTS, scope: 'payments:read' }]);
    expect(c.ready().ok).toBe(false);
    expect(await warm).toBe(true);
    expect(c.ready()).toEqual({ ok: true });
  });

  it('a token that lapsed unused is not a failure: still ready', async () => {
    const c = clientFor('orders');
    const token = await (async () => {
      await c.warmUp([{ resource: PAYMENTS }]);
      return c.get({ resource: PAYMENTS });
    })();
    // Wait for the 1 s token to expire (bounded): nobody asks for it again.
    while (Date.now() < token.expiresAt.getTime() + 50)
      await new Promise((r) => setTimeout(r, 100));
    expect(c.ready()).toEqual({ ok: true });
  });

  it('regression: invalid_client is retried with backoff, named in ready() and logged once at error level', async () => {
    const lines: Array<{ level: number; msg: string; details?: Record<string, unknown> }> = [];
    const c = clientFor('not-registered', lines);
    void c.warmUp([{ resource: PAYMENTS }]);
    const start = fx.as.requestCounts.token + fx.as.requestCounts.mtlsToken;
    for (let i = 0; i < 200; i++) {
      if (fx.as.requestCounts.token + fx.as.requestCounts.mtlsToken - start >= 4) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(
      fx.as.requestCounts.token + fx.as.requestCounts.mtlsToken - start,
    ).toBeGreaterThanOrEqual(4);
    const status = c.ready();
    expect(status.ok).toBe(false);
    expect(status.reason).toContain(`resource ${PAYMENTS}`);
    expect(status.reason).toContain('invalid_client');
    const logged = lines.filter((l) => l.msg.includes('invalid_client'));
    expect(logged.map((l) => l.level)).toEqual([50]);
    // Issue 18: the line names the endpoint (origin and path) and the HTTP status.
    expect(logged[0]!.details?.['url']).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/[^?]*token/);
    expect(logged[0]!.details?.['status']).toBe(401);
    await c.close();
    expect(c.ready().ok).toBe(false);
  });
});
