import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { createRedisReplayStore } from '../../src/verify/dpop/redis-replay-store.js';
import type { ReplayStore } from '../../src/verify/dpop/replay-store.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/** Resolves once `check()` is true, polling on the event loop (bounded). */
async function until(check: () => boolean, tries = 200): Promise<void> {
  for (let i = 0; i < tries && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(check()).toBe(true);
}

describe('Redis replay store against a real redis-server', () => {
  let redis: RedisServer;
  const stores: ReplayStore[] = [];
  const storeOf = (failOpen = false): ReplayStore => {
    const warnings: string[] = [];
    const store = createRedisReplayStore({
      url: redis.url,
      failOpen,
      timeoutMs: 500,
      log: { warn: (_f, m) => warnings.push(m), info: () => undefined },
    });
    stores.push(store);
    return Object.assign(store, { warnings });
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  }, 320_000);
  afterAll(async () => {
    for (const s of stores) await s.close?.();
    await redis?.stop();
  });

  it('two stores (two replicas) on one Redis: a key remembered by one is a replay at the other', async () => {
    const a = storeOf();
    const b = storeOf();
    await until(() => a.readinessProblem?.() === undefined && b.readinessProblem?.() === undefined);
    expect(await a.remember('jkt:jti-1', 60_000)).toBe(true);
    expect(await b.remember('jkt:jti-1', 60_000)).toBe(false);
    expect(await b.remember('jkt:jti-2', 60_000)).toBe(true);
  });

  it('of concurrent first uses across both stores exactly one is new (SET NX is atomic)', async () => {
    const a = storeOf();
    const b = storeOf();
    await until(() => a.readinessProblem?.() === undefined && b.readinessProblem?.() === undefined);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).remember('jkt:race', 60_000)),
    );
    expect(results.filter((r) => r)).toHaveLength(1);
  });

  it('Redis stopped: fails closed with ERR_DPOP_REPLAY_STORE_UNAVAILABLE and readiness says so; fail-open lets it through with a warning; both recover', async () => {
    const closed = storeOf();
    const open = storeOf(true) as ReplayStore & { warnings: string[] };
    await until(
      () => closed.readinessProblem?.() === undefined && open.readinessProblem?.() === undefined,
    );
    expect(open.warnings.some((w) => /failOpen is on/.test(w))).toBe(true);
    await redis.stop();
    await until(() => closed.readinessProblem?.() !== undefined);
    const err = await closed.remember('jkt:down', 60_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CertboundError);
    expect((err as CertboundError).code).toBe('ERR_DPOP_REPLAY_STORE_UNAVAILABLE');
    expect((err as CertboundError).message).not.toMatch(/password/);
    expect(closed.readinessProblem?.()).toMatch(/DPoP replay store redis:\/\/127\.0\.0\.1/);
    expect(await open.remember('jkt:down', 60_000)).toBe(true);
    expect(open.warnings.some((w) => /FAILING OPEN/.test(w))).toBe(true);
    await redis.start();
    await until(() => closed.readinessProblem?.() === undefined);
    expect(await closed.remember('jkt:back', 60_000)).toBe(true);
    expect(await closed.remember('jkt:back', 60_000)).toBe(false);
  }, 30_000);
});
