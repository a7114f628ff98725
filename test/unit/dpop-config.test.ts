import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { dpopVerifierOf } from '../../src/sidecar/dpop-of-config.js';
import { tempDir } from '../support/http-fixtures.js';

const BASE = {
  identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
  inbound: { app: { url: 'http://127.0.0.1:8080' }, publicOrigin: 'https://api.example' },
};
const verify = (dpop: unknown) => ({
  ...BASE,
  verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks', dpop },
});

describe('verify.dpop configuration', () => {
  it('applies the documented defaults', () => {
    const dpop = configSchema.parse(verify({})).verify?.dpop;
    expect(dpop).toMatchObject({
      iatWindow: 60_000,
      maxProofBytes: 8192,
      replayStore: { memory: { maxEntries: 100_000 } },
    });
    expect(dpop?.algorithms).toContain('ES256');
    expect(dpop?.nonce).toBeUndefined();
  });

  it.each([['none'], ['HS256'], ['ES256K']])('refuses algorithm %s at start', (alg) => {
    const result = configSchema.safeParse(verify({ algorithms: [alg] }));
    expect(result.success).toBe(false);
  });

  it('refuses a replay store that is neither memory nor redis, and a non-redis URL', () => {
    expect(configSchema.safeParse(verify({ replayStore: { disk: {} } })).success).toBe(false);
    expect(
      configSchema.safeParse(verify({ replayStore: { redis: { url: 'http://r:6379' } } })).success,
    ).toBe(false);
    const redis = configSchema.parse(verify({ replayStore: { redis: { url: 'redis://r:6379' } } }))
      .verify?.dpop?.replayStore;
    expect(redis).toEqual({
      redis: { url: 'redis://r:6379', keyPrefix: 'certbound:dpop:', timeout: 250, failOpen: false },
    });
  });

  it('needs inbound.publicOrigin, and a nonce key file of at least 32 bytes', async () => {
    const dpop = configSchema.parse(verify({})).verify!.dpop!;
    await expect(dpopVerifierOf(dpop, undefined)).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringContaining('inbound.publicOrigin') as unknown,
    });
    const files = await tempDir();
    try {
      const short = await files.write('short.key', 'too short');
      await expect(
        dpopVerifierOf(
          { ...dpop, nonce: { keyFile: short, step: 300_000 } },
          'https://api.example',
        ),
      ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
      const good = await files.write('good.key', 'x'.repeat(48));
      const verifier = await dpopVerifierOf(
        { ...dpop, nonce: { keyFile: good, step: 300_000 } },
        'https://api.example',
      );
      expect(verifier.nonceForResponse()).toMatch(/^[A-Za-z0-9_-]{32}$/);
      await verifier.close();
    } finally {
      await files.cleanup();
    }
  });
});
