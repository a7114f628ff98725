import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClientLeaf } from '../../src/binding/check-client-leaf.js';
import { peerIdentityOf } from '../../src/binding/peer-identity.js';
import { isCertboundError, type ErrorCode } from '../../src/errors.js';
import { issueWorkload } from '../../src/devca/dev-ca-store.js';
import { mintWithOpenssl, type OpensslCertOptions } from '../support/openssl-certs.js';
import { createTestPki, type TestPki } from '../support/pki.js';

let pki: TestPki;
const CLIENT = 'extendedKeyUsage=clientAuth';
const P256 = { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:P-256'] };

// Certificates minted per run; the expected outcome of checkClientLeaf for each.
const CASES: Array<[string, OpensslCertOptions, ErrorCode | 'ok']> = [
  ['EC P-256, clientAuth', { ...P256, extensions: [CLIENT] }, 'ok'],
  [
    'EC P-384, clientAuth',
    { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:P-384'], extensions: [CLIENT] },
    'ok',
  ],
  ['RSA-2048, clientAuth', { newkey: 'rsa:2048', extensions: [CLIENT] }, 'ok'],
  ['Ed25519, clientAuth', { newkey: 'ed25519', extensions: [CLIENT] }, 'ok'],
  ['no EKU extension (any usage)', { ...P256, extensions: ['basicConstraints=CA:FALSE'] }, 'ok'],
  [
    'clientAuth + serverAuth',
    { ...P256, extensions: ['extendedKeyUsage=serverAuth,clientAuth'] },
    'ok',
  ],
  [
    'CA:TRUE',
    { ...P256, extensions: ['basicConstraints=critical,CA:TRUE', CLIENT] },
    'ERR_PEER_CERT_NOT_LEAF',
  ],
  [
    'CA:TRUE without EKU',
    { ...P256, extensions: ['basicConstraints=CA:TRUE'] },
    'ERR_PEER_CERT_NOT_LEAF',
  ],
  ['RSA-1024', { newkey: 'rsa:1024', extensions: [CLIENT] }, 'ERR_PEER_CERT_WEAK_KEY'],
  ['RSA-2047', { newkey: 'rsa:2047', extensions: [CLIENT] }, 'ERR_PEER_CERT_WEAK_KEY'],
  [
    'EC secp224r1',
    { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:secp224r1'], extensions: [CLIENT] },
    'ERR_PEER_CERT_WEAK_KEY',
  ],
  [
    'EC P-192',
    { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:prime192v1'], extensions: [CLIENT] },
    'ERR_PEER_CERT_WEAK_KEY',
  ],
  [
    'EC secp256k1 (not a P-curve)',
    { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:secp256k1'], extensions: [CLIENT] },
    'ERR_PEER_CERT_WEAK_KEY',
  ],
  [
    'serverAuth only',
    { ...P256, extensions: ['extendedKeyUsage=serverAuth'] },
    'ERR_PEER_CERT_NOT_CLIENT',
  ],
  [
    'anyExtendedKeyUsage only',
    { ...P256, extensions: ['extendedKeyUsage=anyExtendedKeyUsage'] },
    'ERR_PEER_CERT_NOT_CLIENT',
  ],
];
const certs = new Map<string, X509Certificate>();

beforeAll(async () => {
  pki = await createTestPki([]);
  await Promise.all(
    CASES.map(async ([name, options], i) => {
      const w = await mintWithOpenssl(pki, `case${i}`, options);
      certs.set(name, new X509Certificate(w.certPem));
    }),
  );
}, 60_000);

afterAll(() => pki?.cleanup());

function outcomeOf(cert: X509Certificate): ErrorCode | 'ok' {
  try {
    checkClientLeaf(cert);
    return 'ok';
  } catch (err) {
    if (!isCertboundError(err)) throw err;
    return err.code;
  }
}

describe('checkClientLeaf (SPIFFE X.509-SVID §4.1, FAPI 2.0 §5.4.1, RFC 5280 §4.2.1.12)', () => {
  it.each(CASES)('%s → %s', (name, _options, expected) => {
    expect(outcomeOf(certs.get(name)!)).toBe(expected);
  });

  it('names the reason and never the certificate in the message', () => {
    let error: unknown;
    try {
      checkClientLeaf(certs.get('RSA-1024')!);
    } catch (err) {
      error = err;
    }
    expect(isCertboundError(error, 'ERR_PEER_CERT_WEAK_KEY')).toBe(true);
    expect((error as Error).message).toMatch(/RSA key has 1024 bits, at least 2048/);
    expect((error as Error).message).not.toMatch(/BEGIN|MII/);
  });

  it('accepts the dev CA workload certificates (P-256 and Ed25519)', async () => {
    for (const keyType of ['P-256', 'Ed25519'] as const) {
      const issued = await issueWorkload(pki.dir, {
        name: `dev-${keyType.toLowerCase()}`,
        keyType,
      });
      expect(outcomeOf(new X509Certificate(issued.certPem))).toBe('ok');
    }
  });

  it('is applied by peerIdentityOf: a refused certificate has no identity', () => {
    expect(() => peerIdentityOf(certs.get('CA:TRUE')!.raw)).toThrow(
      expect.objectContaining({ code: 'ERR_PEER_CERT_NOT_LEAF' }),
    );
  });
});
