import { createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestIssuer, type TestIssuer } from '../test/support/jwt.js';
import { createTestPki, type TestPki } from '../test/support/pki.js';

/** Files shared by every process of the bench (certificates, keys, tokens). */
export interface BenchEnv {
  dir: string;
  pki: TestPki;
  issuer: TestIssuer;
  /** The client (load generator) identity: `orders`. */
  client: { certPath: string; keyPath: string };
  /** The servers' identity (sidecar, bare proxy, HAProxy, app): `payments`. */
  server: { certPath: string; keyPath: string; pemPath: string };
  caPath: string;
  jwksPath: string;
  /** The issuer's public key as PEM (SPKI), for HAProxy's `jwt_verify`. */
  issuerPemPath: string;
  tokens: {
    /** One token bound to the client's certificate (reused, as in real traffic). */
    reused: string;
    /** `freshCount` distinct bound tokens (a new token per request). */
    fresh: string;
    freshCount: number;
    /** A valid token bound to another certificate (`attacker`): must be refused. */
    stolen: string;
  };
  cleanup(): Promise<void>;
}

/** Mints the PKI, an ES256 issuer and the token files in a temp directory. */
export async function createBenchEnv(freshCount: number): Promise<BenchEnv> {
  const pki = await createTestPki(['orders', 'payments', 'attacker']);
  const dir = pki.dir;
  const issuer = await createTestIssuer();
  const orders = pki.workloads['orders']!;
  const payments = pki.workloads['payments']!;
  const attacker = pki.workloads['attacker']!;
  const path = (name: string): string => join(dir, name);
  const exp = Math.floor(Date.now() / 1000) + 3 * 3600;
  await writeFile(path('server.pem'), `${payments.certPem}\n${payments.keyPem}`);
  await writeFile(path('jwks.json'), JSON.stringify(issuer.jwks()));
  const pem = createPublicKey({ key: issuer.publicJwk, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  });
  await writeFile(path('issuer.pem'), pem);
  await writeFile(path('token-reused.txt'), `${await issuer.sign(orders.thumbprint, { exp })}\n`);
  await writeFile(path('token-stolen.txt'), `${await issuer.sign(attacker.thumbprint, { exp })}\n`);
  const fresh: string[] = [];
  for (let i = 0; i < freshCount; i++) {
    fresh.push(await issuer.sign(orders.thumbprint, { exp, jti: `t${i}` }));
  }
  await writeFile(path('tokens-fresh.txt'), `${fresh.join('\n')}\n`);
  return {
    dir,
    pki,
    issuer,
    client: { certPath: orders.paths.cert, keyPath: orders.paths.key },
    server: {
      certPath: payments.paths.cert,
      keyPath: payments.paths.key,
      pemPath: path('server.pem'),
    },
    caPath: orders.paths.ca,
    jwksPath: path('jwks.json'),
    issuerPemPath: path('issuer.pem'),
    tokens: {
      reused: path('token-reused.txt'),
      fresh: path('tokens-fresh.txt'),
      freshCount,
      stolen: path('token-stolen.txt'),
    },
    cleanup: () => pki.cleanup(),
  };
}
