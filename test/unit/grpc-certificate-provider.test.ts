import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { experimental } from '@grpc/grpc-js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { X509CertificateProvider } from '../../src/grpc/certificate-provider.js';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { createTestPki, type TestPki, materialOf } from '../support/pki.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki(['orders']);
});
afterAll(async () => {
  await pki?.cleanup();
});

describe('X509CertificateProvider', () => {
  it('delivers the current identity asynchronously, then every rotation, and stops after removal', async () => {
    const source = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    const provider = new X509CertificateProvider(source);
    const ids: Array<experimental.IdentityCertificateUpdate | null> = [];
    const cas: Array<experimental.CaCertificateUpdate | null> = [];
    const onId = (u: experimental.IdentityCertificateUpdate | null) => ids.push(u);
    const onCa = (u: experimental.CaCertificateUpdate | null) => cas.push(u);
    provider.addIdentityCertificateListener(onId);
    provider.addCaCertificateListener(onCa);
    // grpc-js expects no synchronous callback from add*Listener.
    expect(ids).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(ids).toHaveLength(1);
    expect(cas).toHaveLength(1);
    expect(thumbprintOf(ids[0]!.certificate.toString())).toBe(pki.workloads['orders']!.thumbprint);
    expect(cas[0]!.caCertificate.toString()).toContain('BEGIN CERTIFICATE');

    const rotated = await pki.issue('orders');
    source.set(materialOf(rotated));
    expect(ids).toHaveLength(2);
    expect(thumbprintOf(ids[1]!.certificate.toString())).toBe(rotated.thumbprint);
    expect(ids[1]!.privateKey.toString()).toContain('PRIVATE KEY');

    // A late listener gets the latest value replayed.
    const late: Array<experimental.IdentityCertificateUpdate | null> = [];
    provider.addIdentityCertificateListener((u) => late.push(u));
    await new Promise((r) => setImmediate(r));
    expect(late).toHaveLength(1);
    expect(thumbprintOf(late[0]!.certificate.toString())).toBe(rotated.thumbprint);

    provider.removeIdentityCertificateListener(onId);
    provider.removeCaCertificateListener(onCa);
    source.set(materialOf(await pki.issue('orders')));
    expect(ids).toHaveLength(2);
    expect(cas).toHaveLength(2);
    await source.close();
  });

  it('delivers null (fail closed) when the source is already closed', async () => {
    const source = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    await source.close();
    const provider = new X509CertificateProvider(source);
    const ids: unknown[] = [];
    provider.addIdentityCertificateListener((u) => ids.push(u));
    await new Promise((r) => setImmediate(r));
    expect(ids).toEqual([null]);
  });
});
