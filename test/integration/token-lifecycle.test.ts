import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { isCertboundError } from '../../src/errors.js';
import type { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createTokenClient, type TokenClient } from '../../src/token/index.js';
import type { AccessToken } from '../../src/token/access-token.js';
import { PAYMENTS, sourceOf, startTestAs, type AsFixture } from '../support/as.js';

const SHORT = 'https://short.demo.local';
const TINY = 'https://tiny.demo.local';

/** Polls `check` every `everyMs` until it returns a value, at most `limitMs`. */
async function until<T>(
  check: () => Promise<T | undefined>,
  limitMs = 15_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe('TokenClient lifecycle: refresh, outage, rotation', () => {
  let fx: AsFixture;
  const clients: TokenClient[] = [];
  const sources: StaticX509Source[] = [];

  beforeAll(async () => {
    fx = await startTestAs({
      resources: [
        { indicator: PAYMENTS, scopes: ['payments:read'], ttlSec: 300 },
        // Short-lived tokens for refresh and outage tests (exp has 1 s resolution).
        { indicator: SHORT, scopes: ['short:read'], ttlSec: 4 },
        { indicator: TINY, scopes: ['tiny:read'], ttlSec: 2 },
      ],
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(sources.map((s) => s.close()));
    await fx.close();
  });

  async function client(
    options: Partial<Parameters<typeof createTokenClient>[0]> = {},
  ): Promise<{ c: TokenClient; source: StaticX509Source }> {
    const source = sourceOf(fx.pki.workloads['orders']!);
    sources.push(source);
    const c = await createTokenClient({
      source,
      clientId: 'orders',
      issuer: fx.as.issuer,
      minBackoffMs: 50,
      maxBackoffMs: 200,
      ...options,
    });
    clients.push(c);
    return { c, source };
  }

  it('refreshes a token in use in the background before it expires', async () => {
    const { c } = await client({ refreshAtFraction: 0.5 });
    const first = await c.get({ resource: SHORT });
    // Every get below is answered from the cache: the new token arrives without a miss.
    const second = await until(async () => {
      const t = await c.get({ resource: SHORT });
      return t.accessToken !== first.accessToken ? t : undefined;
    });
    expect(c.stats()).toMatchObject({ misses: 1, refreshes: 1, asRequests: { token: 2 } });
    expect(second.expiresAt.getTime()).toBeGreaterThan(first.expiresAt.getTime());
    console.log(
      'refresh: AS token requests =',
      c.stats().asRequests.token,
      'misses =',
      c.stats().misses,
    );
  });

  it('a token nobody asks for again is not refreshed', async () => {
    const { c } = await client({ refreshAtFraction: 0.5 });
    const first = await c.get({ resource: TINY });
    // Wait past its refresh point; only an unused key is left, so no AS request follows.
    await new Promise((r) =>
      setTimeout(r, Math.max(0, first.expiresAt.getTime() - Date.now()) + 100),
    );
    expect(c.stats()).toMatchObject({ refreshes: 0, asRequests: { token: 1 } });
  });

  it('AS down: the cached token is served until it expires, then ERR_AS_UNAVAILABLE; AS back: recovers', async () => {
    const { c } = await client({ timeoutMs: 2000 });
    const first = await c.get({ resource: SHORT });
    await fx.as.stop();
    try {
      let served = 0;
      const err = await until(async () => {
        try {
          const t = await c.get({ resource: SHORT });
          expect(t).toBe(first);
          served++;
          return undefined;
        } catch (e) {
          return e;
        }
      });
      expect(served).toBeGreaterThan(0);
      expect(isCertboundError(err, 'ERR_AS_UNAVAILABLE')).toBe(true);
      if (!isCertboundError(err)) throw err;
      expect(Date.now()).toBeGreaterThanOrEqual(first.expiresAt.getTime());
      expect(err.cause).toBeDefined();
      expect(err.message).not.toContain(first.accessToken);
      expect(c.stats().failures).toBeGreaterThan(0);
    } finally {
      await fx.as.start();
    }
    const failuresBefore = c.stats().failures;
    const recovered = await until(async () => {
      try {
        return await c.get({ resource: SHORT });
      } catch {
        return undefined;
      }
    });
    expect(recovered.accessToken).not.toBe(first.accessToken);
    expect(decodeJwt(recovered.accessToken).cnf).toEqual({ 'x5t#S256': first.thumbprint });
    console.log(
      'outage: failures during outage =',
      failuresBefore,
      'AS token requests =',
      c.stats().asRequests.token,
    );
  });

  it('rotation: tokens of the old certificate are dropped, keys in use prefetched, no caller gets an old-bound token', async () => {
    const { c, source } = await client();
    const before = await c.get({ resource: PAYMENTS });
    expect(before.thumbprint).toBe(fx.pki.workloads['orders']!.thumbprint);

    const renewed = await fx.pki.issue('orders');
    expect(renewed.thumbprint).not.toBe(before.thumbprint);

    let stop = false;
    let calls = 0;
    const mismatches: string[] = [];
    const seen = new Set<string>();
    // Callers check the binding against the source at the moment get() resolves.
    const worker = async (): Promise<void> => {
      while (!stop) {
        const t: AccessToken = await c.get({ resource: PAYMENTS });
        calls++;
        seen.add(t.thumbprint);
        if (t.thumbprint !== source.current().thumbprint) mismatches.push(t.thumbprint);
        if (decodeJwt(t.accessToken).cnf?.['x5t#S256' as never] !== t.thumbprint) {
          mismatches.push('cnf');
        }
        await new Promise((r) => setImmediate(r));
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    await until(async () => (calls > 50 ? true : undefined));
    const tokenRequestsBefore = c.stats().asRequests.token;
    // Rotate from a macrotask, as a file watcher would.
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        source.set({
          certPem: renewed.certPem,
          keyPem: renewed.keyPem,
          bundlePem: renewed.bundlePem,
        });
        resolve();
      }, 0),
    );
    const callsAtRotation = calls;
    await until(async () => (calls > callsAtRotation + 50 ? true : undefined));
    stop = true;
    await Promise.all(workers);

    expect(mismatches).toEqual([]);
    expect(seen).toEqual(new Set([before.thumbprint, renewed.thumbprint]));
    const after = await c.get({ resource: PAYMENTS });
    expect(after.thumbprint).toBe(renewed.thumbprint);
    expect(decodeJwt(after.accessToken).cnf).toEqual({ 'x5t#S256': renewed.thumbprint });
    // One token request for the new certificate, shared by the prefetch and the callers.
    expect(c.stats().asRequests.token).toBe(tokenRequestsBefore + 1);
    expect(c.stats().prefetches).toBe(1);
    console.log('rotation: calls =', calls, 'AS token requests =', c.stats().asRequests.token);
  });
});
