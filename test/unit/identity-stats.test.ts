import { describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate } from '../../src/devca/dev-ca.js';
import {
  cipherListOf,
  NODE_TLS13_CIPHERSUITES,
  tlsOptionsOf,
} from '../../src/tls/follow-secure-context.js';
import { watchIdentityStats } from '../../src/identity/identity-stats.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';

async function material(
  ca: Awaited<ReturnType<typeof createDevCa>>,
  usages?: Array<'clientAuth' | 'serverAuth'>,
) {
  const issued = await issueCertificate(ca, { name: 'orders', ...(usages ? { usages } : {}) });
  return { certPem: issued.certPem, keyPem: issued.keyPem ?? '', bundlePem: ca.certPem };
}

describe('watchIdentityStats', () => {
  it('counts published and rejected updates, not the initial value', async () => {
    const ca = await createDevCa();
    const source = StaticX509Source.create(await material(ca));
    const stats = watchIdentityStats(source);
    await Promise.resolve(); // the replay of the current value
    expect(stats.rotations).toEqual({ ok: 0, rejected: 0 });
    expect(stats.expiryTimestampSeconds).toBe(source.current().notAfter.getTime() / 1000);

    const next = source.set(await material(ca));
    expect(stats.rotations).toEqual({ ok: 1, rejected: 0 });
    expect(stats.thumbprint).toBe(next.thumbprint);

    const badKey = { certPem: next.chainPem, keyPem: 'not a key', bundlePem: ca.certPem };
    expect(() => source.set(badKey)).toThrow(expect.objectContaining({ code: 'ERR_KEY_PARSE' }));
    expect(source.current()).toBe(next);
    const noClient = await material(ca, ['serverAuth']);
    expect(() => source.set(noClient)).toThrow(expect.objectContaining({ code: 'ERR_CERT_EKU' }));
    expect(stats.rotations.rejected).toBe(2);
    expect(stats.lastErrorCode).toBe('ERR_CERT_EKU');

    source.set(await material(ca));
    expect(stats.lastErrorCode).toBeUndefined();
    stats.close();
    source.set(await material(ca));
    expect(stats.rotations.ok).toBe(2);
    await source.close();
  });
});

describe('tlsOptionsOf', () => {
  it('carries key, chain, bundle and TLS 1.2 minimum, plus the given settings', async () => {
    const ca = await createDevCa();
    const source = StaticX509Source.create(await material(ca));
    const id = source.current();
    expect(tlsOptionsOf(id)).toEqual({
      key: id.keyPem,
      cert: id.chainPem,
      ca: id.bundlePem,
      minVersion: 'TLSv1.2',
      ciphers: cipherListOf(),
    });
    expect(
      tlsOptionsOf(id, { minVersion: 'TLSv1.3', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
    ).toMatchObject({
      minVersion: 'TLSv1.3',
      ciphers: `${NODE_TLS13_CIPHERSUITES.join(':')}:ECDHE-ECDSA-AES128-GCM-SHA256`,
    });
    await source.close();
  });
});
