import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAuthorizationServer,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { isCertboundError } from '../../src/errors.js';
import { checkIdentity } from '../../src/identity/check-identity.js';
import { identitySourceOf } from '../../src/sidecar/identity-source.js';
import { createTokenClient } from '../../src/token/index.js';
import { jwksOf, PAYMENTS } from '../support/as.js';
import { createTestPki, materialOf, type TestPki, type TestWorkload } from '../support/pki.js';

const run = promisify(execFile);

/** A self-signed leaf as an operator makes one for RFC 8705 §2.2: CA:FALSE, no keyCertSign. */
async function selfSignedLeaf(pki: TestPki, name: string): Promise<TestWorkload> {
  const dir = join(pki.dir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths = {
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    ca: join(pki.dir, 'bundle.pem'),
  };
  const spiffeId = `spiffe://demo.local/ns/default/sa/${name}`;
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    paths.key,
    '-out',
    paths.cert,
    '-days',
    '1',
    '-subj',
    `/CN=${name}/O=certbound`,
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'keyUsage=critical,digitalSignature',
    '-addext',
    'extendedKeyUsage=clientAuth,serverAuth',
    '-addext',
    `subjectAltName=URI:${spiffeId},DNS:localhost,IP:127.0.0.1`,
  ]);
  const certPem = await readFile(paths.cert, 'utf8');
  return {
    name,
    spiffeId,
    certPem,
    keyPem: await readFile(paths.key, 'utf8'),
    // The bundle still holds the CA of the AS and of the peers; the leaf is not in it.
    bundlePem: await readFile(paths.ca, 'utf8'),
    thumbprint: thumbprintOf(certPem),
    dir,
    paths,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isCertboundError(err) ? err.code : String(err);
  }
  return undefined;
}

async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return isCertboundError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('self_signed_tls_client_auth with a self-signed leaf (RFC 8705 §2.2)', () => {
  let pki: TestPki;
  let leaf: TestWorkload;
  let as: DevAuthorizationServer;

  beforeAll(async () => {
    pki = await createTestPki(['orders']);
    leaf = await selfSignedLeaf(pki, 'orders-self');
    as = await startAuthorizationServer({
      ca: pki.ca,
      clients: [{ clientId: 'orders-self', jwks: jwksOf(leaf) }],
      resources: [{ indicator: PAYMENTS, scopes: ['payments:read'] }],
    });
  }, 60_000);
  afterAll(async () => {
    await as?.close();
    await pki?.cleanup();
  });

  const files = (w: TestWorkload): Parameters<typeof identitySourceOf>[0] => ({
    certPath: w.paths.cert,
    keyPath: w.paths.key,
    bundlePath: w.paths.ca,
    pollInterval: 60_000,
    quietPeriod: 200,
  });

  it('the sidecar identity accepts the self-signed leaf when token.authMethod says so, and the AS binds the token to it (regression: refused as ERR_CERT_UNTRUSTED)', async () => {
    const source = await identitySourceOf(files(leaf), {
      requireServerAuth: true,
      authMethod: 'self_signed_tls_client_auth',
    });
    const client = await createTokenClient({
      source,
      clientId: 'orders-self',
      issuer: as.issuer,
      authMethod: 'self_signed_tls_client_auth',
    });
    try {
      expect(source.current().thumbprint).toBe(leaf.thumbprint);
      const token = await client.get({ resource: PAYMENTS });
      expect(decodeJwt(token.accessToken).cnf).toEqual({ 'x5t#S256': leaf.thumbprint });
    } finally {
      await client.close();
      await source.close();
    }
  });

  it('with tls_client_auth (a CA-issued identity) the same leaf is still refused: ERR_CERT_UNTRUSTED', async () => {
    expect(
      await codeOfAsync(
        identitySourceOf(files(leaf), { requireServerAuth: true, authMethod: 'tls_client_auth' }),
      ),
    ).toBe('ERR_CERT_UNTRUSTED');
    expect(await codeOfAsync(identitySourceOf(files(leaf), { requireServerAuth: true }))).toBe(
      'ERR_CERT_UNTRUSTED',
    );
  });

  it('self-signed auth admits only a self-signed leaf: a leaf of an unknown CA, or a chain, is still ERR_CERT_UNTRUSTED', async () => {
    const other = await createTestPki(['stranger']);
    try {
      const stranger = other.workloads['stranger'] as TestWorkload;
      const foreign = { ...materialOf(stranger), bundlePem: leaf.bundlePem };
      expect(codeOf(() => checkIdentity(foreign, { selfSignedLeaf: true }))).toBe(
        'ERR_CERT_UNTRUSTED',
      );
      // The self-signed leaf followed by an unrelated certificate is a chain, not a self-signed leaf.
      const chained = { ...materialOf(leaf), certPem: leaf.certPem + stranger.certPem };
      expect(codeOf(() => checkIdentity(chained, { selfSignedLeaf: true }))).toBe(
        'ERR_CERT_UNTRUSTED',
      );
      // Key, validity and EKU checks still apply to a self-signed leaf.
      const wrongKey = { ...materialOf(leaf), keyPem: stranger.keyPem };
      expect(codeOf(() => checkIdentity(wrongKey, { selfSignedLeaf: true }))).toBe(
        'ERR_KEY_MISMATCH',
      );
      expect(
        codeOf(() =>
          checkIdentity(materialOf(leaf), {
            selfSignedLeaf: true,
            now: () => Date.now() + 3 * 86_400_000,
          }),
        ),
      ).toBe('ERR_CERT_EXPIRED');
    } finally {
      await other.cleanup();
    }
  });
});
