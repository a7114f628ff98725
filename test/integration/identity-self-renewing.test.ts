import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { createDevCa, type DevCa } from '../../src/devca/dev-ca.js';
import { devCaSigner } from '../../src/devca/dev-ca-signer.js';
import { initCaDir } from '../../src/devca/dev-ca-store.js';
import { FileX509Source } from '../../src/identity/file-x509-source.js';
import { watchIdentityStats } from '../../src/identity/identity-stats.js';
import { SelfRenewingX509Source } from '../../src/identity/self-renewing-x509-source.js';
import type { WorkloadIdentity } from '../../src/identity/workload-identity.js';
import type { X509Source } from '../../src/identity/x509-source.js';
import { nextError, nextIdentity } from './identity-fixtures.js';

let root: string;
let ca: DevCa;
const sources: X509Source[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'certbound-renew-'));
  ca = await createDevCa();
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

function nextChange(
  source: X509Source,
  from: string,
): Promise<{ identity: WorkloadIdentity; at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no renewal within 20 s')), 20_000);
    const off = source.onUpdate((identity) => {
      if (identity.thumbprint === from) return;
      clearTimeout(timer);
      off();
      resolve({ identity, at: Date.now() });
    });
  });
}

describe('SelfRenewingX509Source', () => {
  it('renews before expiry with a short TTL, writes the files atomically, and a file source follows', async () => {
    const writeTo = {
      certPath: join(root, 'cert.pem'),
      keyPath: join(root, 'key.pem'),
      bundlePath: join(root, 'ca.pem'),
    };
    const source = await SelfRenewingX509Source.create({
      sign: devCaSigner(ca),
      name: 'orders',
      spiffeId: 'spiffe://demo.local/ns/default/sa/orders',
      ttlMs: 3000,
      renewAtFraction: 0.5,
      jitter: 0.1,
      writeTo,
    });
    sources.push(source);
    const files = await FileX509Source.create({ ...writeTo, debounceMs: 30, pollIntervalMs: 500 });
    sources.push(files);
    const first = source.current();
    expect(files.current().thumbprint).toBe(first.thumbprint);
    expect(first.notAfter.getTime() - first.notBefore.getTime()).toBeLessThanOrEqual(3000);

    const renewed = await nextChange(source, first.thumbprint);
    expect(renewed.at).toBeLessThan(first.notAfter.getTime()); // before the old one expired
    expect(renewed.identity.thumbprint).not.toBe(first.thumbprint);
    expect(renewed.identity.spiffeId).toBe('spiffe://demo.local/ns/default/sa/orders');
    expect(renewed.identity.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
    expect(renewed.identity.keyPem).not.toBe(first.keyPem); // new key, not just a new serial
    expect(thumbprintOf(await readFile(writeTo.certPath, 'utf8'))).toBe(
      renewed.identity.thumbprint,
    );
    await nextIdentity(files, renewed.identity.thumbprint);

    // And again: the schedule continues.
    const again = await nextChange(source, renewed.identity.thumbprint);
    expect(again.at).toBeLessThan(renewed.identity.notAfter.getTime());
  });

  it('keeps the current certificate when renewal fails, reports ERR_RENEWAL_FAILED, and recovers', async () => {
    const caDir = join(root, 'ca-dir');
    await initCaDir(caDir);
    const source = await SelfRenewingX509Source.create({
      sign: devCaSigner({ caDir }),
      name: 'payments',
      ttlMs: 3_600_000,
      minBackoffMs: 3_600_000, // no automatic retry during the test: renewNow() drives it
    });
    sources.push(source);
    const stats = watchIdentityStats(source);
    const before = source.current();
    const caKey = join(caDir, 'ca', 'ca-key.pem');
    await rename(caKey, `${caKey}.away`);
    const failed = nextError(source);
    await source.renewNow();
    const error = await failed;
    expect(error.code).toBe('ERR_RENEWAL_FAILED');
    expect(error.message).not.toMatch(/PRIVATE KEY/);
    expect(source.current()).toBe(before);
    expect(stats.rotations).toEqual({ ok: 0, rejected: 1 });
    expect(stats.lastErrorCode).toBe('ERR_RENEWAL_FAILED');

    await rename(`${caKey}.away`, caKey);
    const renewed = nextChange(source, before.thumbprint);
    await source.renewNow();
    expect((await renewed).identity.thumbprint).not.toBe(before.thumbprint);
    expect(stats.rotations).toEqual({ ok: 1, rejected: 1 });
    expect(stats.lastErrorCode).toBeUndefined();
    expect(stats.expiryTimestampSeconds).toBe(source.current().notAfter.getTime() / 1000);
    stats.close();
  });

  it('rejects bad options at once', async () => {
    await expect(
      SelfRenewingX509Source.create({ sign: devCaSigner(ca), name: 'x', renewAtFraction: 1.5 }),
    ).rejects.toThrow(TypeError);
    await expect(
      SelfRenewingX509Source.create({ sign: devCaSigner(ca), name: 'x', ttlMs: 10 }),
    ).rejects.toThrow(TypeError);
  });
});
