import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derOf, thumbprintOf } from '../../src/binding/thumbprint.js';
import { peerIdentityOf } from '../../src/binding/peer-identity.js';
import { createTestPki, type TestPki } from '../support/pki.js';

/** RFC 8705 §3.1 from openssl's hex fingerprint: hex → bytes → base64url. */
function opensslThumbprint(certPath: string): string {
  const out = execFileSync(
    'openssl',
    ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256'],
    { encoding: 'utf8' },
  );
  const hex = out.split('=')[1]!.trim().replace(/:/g, '');
  return Buffer.from(hex, 'hex').toString('base64url');
}

describe('thumbprintOf', () => {
  let dir: string;
  let pki: TestPki;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certbound-openssl-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=openssl-minted',
      ],
      { stdio: 'ignore' },
    );
    pki = await createTestPki(['orders']);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await pki.cleanup();
  });

  it('equals the value derived from openssl -fingerprint -sha256 for an OpenSSL-minted cert', () => {
    const pem = readFileSync(join(dir, 'cert.pem'), 'utf8');
    expect(thumbprintOf(pem)).toBe(opensslThumbprint(join(dir, 'cert.pem')));
  });

  it('equals openssl for a certificate from our dev CA', () => {
    expect(thumbprintOf(pki.workloads['orders']!.certPem)).toBe(
      opensslThumbprint(pki.workloads['orders']!.paths.cert),
    );
  });

  it('agrees across DER, PEM, X509Certificate and tls.PeerCertificate', () => {
    const pem = pki.workloads['orders']!.certPem;
    const x509 = new X509Certificate(pem);
    const expected = thumbprintOf(pem);
    expect(thumbprintOf(x509.raw)).toBe(expected);
    expect(thumbprintOf(new Uint8Array(x509.raw))).toBe(expected);
    expect(thumbprintOf(x509)).toBe(expected);
    expect(thumbprintOf({ raw: x509.raw } as PeerCertificate)).toBe(expected);
    expect(expected).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('uses the first certificate of a PEM chain', () => {
    const leaf = pki.workloads['orders']!.certPem;
    expect(thumbprintOf(leaf + pki.ca.certPem)).toBe(thumbprintOf(leaf));
    expect(thumbprintOf(pki.ca.certPem + leaf)).not.toBe(thumbprintOf(leaf));
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a plain object', {}],
    ['a string that is not PEM', 'hello'],
    ['an empty buffer', Buffer.alloc(0)],
    // A real key, generated now (no key material is committed): a key is not a certificate.
    [
      'a private key PEM',
      generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    ],
  ])('throws TypeError for %s', (_name, input) => {
    expect(() => thumbprintOf(input as never)).toThrow(TypeError);
  });

  it('matches the certificate a real TLS peer presented (PeerCertificate.raw)', async () => {
    const server = pki.workloads['orders']!;
    const srv = createServer({ key: server.keyPem, cert: server.certPem }, (s) => s.end());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const seen = await new Promise<{ peer: PeerCertificate; x509Raw: Buffer }>(
      (resolve, reject) => {
        const sock = connect(
          { port, host: '127.0.0.1', ca: server.bundlePem, servername: 'localhost' },
          () => {
            resolve({
              peer: sock.getPeerCertificate(),
              x509Raw: sock.getPeerX509Certificate()!.raw,
            });
            sock.end();
          },
        );
        sock.on('error', reject);
      },
    );
    await new Promise((r) => srv.close(r));
    expect(thumbprintOf(seen.peer)).toBe(server.thumbprint);
    expect(thumbprintOf(seen.x509Raw)).toBe(server.thumbprint);
    expect(peerIdentityOf(seen.x509Raw)).toEqual({
      thumbprint: server.thumbprint,
      spiffeId: server.spiffeId,
    });
    expect(Buffer.from(derOf(server.certPem)).equals(seen.x509Raw)).toBe(true);
  });
});
