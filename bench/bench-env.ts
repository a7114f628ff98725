import { createPublicKey, randomFillSync } from 'node:crypto';
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
    /** `forgedCount` distinct forged tokens, one a line, in the order of {@link forgedKindOf}. */
    forged: string;
    forgedCount: number;
    /** How many forged tokens of each kind the file holds. */
    forgedMix: Record<ForgedKind, number>;
    /** Time minting the forged tokens took, in milliseconds. */
    forgedMintMs: number;
  };
  cleanup(): Promise<void>;
}

/** Distinct forged tokens of the flood scenario (`BENCH_FORGED_TOKENS`). */
export const FORGED_TOKENS = Number(process.env['BENCH_FORGED_TOKENS'] ?? 20_000);

/**
 * What is wrong with a forged token. `bad-signature` is the worst case for a verifier: the
 * right `iss`, a known `kid`, `alg: ES256`, valid claims, so it passes every cheap check
 * and pays the signature check; the others are refused before any signature work.
 */
export type ForgedKind = 'bad-signature' | 'unknown-kid' | 'wrong-iss' | 'malformed';

/** The kind of the i-th forged token: of every 20, 17 bad signatures and one of each other kind. */
export function forgedKindOf(i: number): ForgedKind {
  const k = i % 20;
  return k === 0 ? 'malformed' : k === 1 ? 'unknown-kid' : k === 2 ? 'wrong-iss' : 'bad-signature';
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * `count` distinct forged tokens, bound to `thumbprint`, without signing each one: the
 * signature of one real token with bytes 8–31 of its `r` replaced by random ones (still
 * 64 bytes of valid base64url, `r` and `s` still in range, so the verifier must do the
 * whole ECDSA check to refuse it); a unique `jti` makes every token distinct.
 */
async function mintForgedTokens(
  issuer: TestIssuer,
  thumbprint: string,
  exp: number,
  count: number,
): Promise<{ tokens: string[]; mix: Record<ForgedKind, number> }> {
  const template = await issuer.sign(thumbprint, { exp });
  const signature = Buffer.from(template.slice(template.lastIndexOf('.') + 1), 'base64url');
  const iat = Math.floor(Date.now() / 1000);
  const mix: Record<ForgedKind, number> = {
    'bad-signature': 0,
    'unknown-kid': 0,
    'wrong-iss': 0,
    malformed: 0,
  };
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = forgedKindOf(i);
    mix[kind]++;
    const jti = `forged-${i}`;
    if (kind === 'malformed') {
      // Two segments, a header that is not JSON, or no dots at all: refused by shape.
      const variant = Math.floor(i / 20) % 3;
      const sig = signature.toString('base64url');
      tokens.push(
        variant === 0
          ? `${b64({ alg: 'ES256', kid: issuer.kid })}.${b64({ jti })}`
          : variant === 1
            ? `${Buffer.from(`{"alg":${jti}`).toString('base64url')}.${b64({ jti })}.${sig}`
            : `${jti}${'x'.repeat(40)}`,
      );
      continue;
    }
    const header = {
      alg: 'ES256',
      typ: 'at+jwt',
      kid: kind === 'unknown-kid' ? `rotated-out-${i}` : issuer.kid,
    };
    const payload = {
      client_id: 'orders',
      scope: 'payments:read payments:write',
      cnf: { 'x5t#S256': thumbprint },
      jti,
      iss: kind === 'wrong-iss' ? 'https://evil.test' : issuer.issuer,
      aud: issuer.audience,
      sub: 'orders',
      iat,
      exp,
    };
    const sig = Buffer.from(signature);
    randomFillSync(sig, 8, 24);
    tokens.push(`${b64(header)}.${b64(payload)}.${sig.toString('base64url')}`);
  }
  return { tokens, mix };
}

/** Mints the PKI, an ES256 issuer and the token files in a temp directory. */
export async function createBenchEnv(
  freshCount: number,
  forgedCount = FORGED_TOKENS,
): Promise<BenchEnv> {
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
  // Issue 19: the flood comes from a compromised workload (`attacker`), bound to its own cert.
  const forgedStart = performance.now();
  const forged = await mintForgedTokens(issuer, attacker.thumbprint, exp, forgedCount);
  const forgedMintMs = performance.now() - forgedStart;
  await writeFile(path('tokens-forged.txt'), `${forged.tokens.join('\n')}\n`);
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
      forged: path('tokens-forged.txt'),
      forgedCount,
      forgedMix: forged.mix,
      forgedMintMs,
    },
    cleanup: () => pki.cleanup(),
  };
}
