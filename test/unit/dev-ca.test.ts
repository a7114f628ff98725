import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../src/devca/dev-ca.js';
import { createCsr } from '../../src/identity/create-csr.js';
import { caDirPaths, initCaDir } from '../../src/devca/dev-ca-store.js';
import { createTestPki, type TestPki } from '../support/pki.js';

describe('dev CA', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki(['orders']);
  });
  afterAll(() => pki.cleanup());

  it('issues leaf certificates that pass openssl verify with clientAuth and serverAuth purposes', () => {
    const { paths } = pki.workloads['orders']!;
    for (const purpose of ['sslclient', 'sslserver']) {
      const out = execFileSync(
        'openssl',
        ['verify', '-purpose', purpose, '-CAfile', caDirPaths(pki.dir).bundle, paths.cert],
        { encoding: 'utf8' },
      );
      expect(out.trim()).toBe(`${paths.cert}: OK`);
    }
  });

  it('writes a leaf with SPIFFE URI, DNS localhost + name, IP 127.0.0.1, 24 h default lifetime, key mode 0600', () => {
    const w = pki.workloads['orders']!;
    const cert = new X509Certificate(w.certPem);
    expect(cert.subjectAltName).toContain('URI:spiffe://demo.local/ns/default/sa/orders');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('DNS:orders');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.ca).toBe(false);
    const lifetimeH = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 3_600_000;
    expect(Math.round(lifetimeH)).toBe(24);
    expect(statSync(w.paths.key).mode & 0o777).toBe(0o600);
    expect(createPrivateKey(w.keyPem).asymmetricKeyType).toBe('ec');
  });

  it('a short ttl counts from issuance, not from the back-dated notBefore (regression: a 30 s leaf was issued expired)', async () => {
    const issuedAfter = Date.now();
    const leaf = await issueCertificate(pki.ca, { name: 'short', ttlMs: 30_000 });
    const cert = new X509Certificate(leaf.certPem);
    // Certificates carry whole seconds: notAfter is now + 30 s, truncated.
    expect(Date.parse(cert.validTo)).toBeGreaterThanOrEqual(
      Math.floor(issuedAfter / 1000) * 1000 + 30_000,
    );
    expect(Date.parse(cert.validFrom)).toBeLessThan(issuedAfter - 30_000);
    expect(leaf.notAfter.getTime()).toBe(Date.parse(cert.validTo));
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBeGreaterThanOrEqual(89_000);
    // An explicit notBefore still starts the lifetime (tests of expired certificates).
    const past = new Date(issuedAfter - 7_200_000);
    const expired = await issueCertificate(pki.ca, {
      name: 'old',
      notBefore: past,
      ttlMs: 3_600_000,
    });
    expect(expired.notAfter.getTime()).toBe(Math.floor(past.getTime() / 1000) * 1000 + 3_600_000);
  });

  it('issues Ed25519 leaves and certificates for a CSR (verifying its signature)', async () => {
    const ed = await issueCertificate(pki.ca, { name: 'ed', keyType: 'Ed25519' });
    expect(createPrivateKey(ed.keyPem!).asymmetricKeyType).toBe('ed25519');
    const csr = await createCsr('from-csr');
    const issued = await issueCertificate(pki.ca, {
      name: 'from-csr',
      csrPem: csr.csrPem,
      ttlMs: 3_600_000,
    });
    expect(issued.keyPem).toBeUndefined();
    const cert = new X509Certificate(issued.certPem);
    expect(cert.checkPrivateKey(createPrivateKey(csr.keyPem))).toBe(true);
    const file = join(pki.dir, 'csr-leaf.pem');
    writeFileSync(file, issued.certPem);
    expect(
      execFileSync('openssl', ['verify', '-CAfile', caDirPaths(pki.dir).bundle, file], {
        encoding: 'utf8',
      }),
    ).toContain('OK');
    const tampered = csr.csrPem.replace(/[A-Za-z](?=[^\n]*\n-----END)/, (c) =>
      c === 'A' ? 'B' : 'A',
    );
    await expect(issueCertificate(pki.ca, { name: 'x', csrPem: tampered })).rejects.toThrow();
  });

  it('keeps an existing CA (idempotent make certs) unless forced', async () => {
    const again = await initCaDir(pki.dir);
    expect(again.created).toBe(false);
    expect(again.ca.certPem.trim()).toBe(pki.ca.certPem.trim());
  });
});
