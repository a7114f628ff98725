import { generateKeyPairSync } from 'node:crypto';
import { CompactSign, exportJWK, generateKeyPair, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { verificationKeyOf, verifyJwsSignature } from '../../src/verify/jws-signature.js';

const payload = new TextEncoder().encode(JSON.stringify({ iss: 'https://as' }));

async function signed(alg: string, options: Record<string, unknown> = {}) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const token = await new CompactSign(payload).setProtectedHeader({ alg }).sign(privateKey);
  // What jose's JWKS key function hands back: a key imported from the public JWK.
  const imported = await importJWK(await exportJWK(publicKey), alg);
  return { token, key: imported };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
}

describe('node:crypto JWS signatures (the fresh-token path)', () => {
  it.each(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'])(
    '%s verifies, and a flipped bit does not',
    async (alg) => {
      const { token, key } = await signed(alg);
      expect(codeOf(() => verifyJwsSignature(token, alg, verificationKeyOf(key, alg)))).toBe('ok');
      const dot = token.lastIndexOf('.');
      const sig = Buffer.from(token.slice(dot + 1), 'base64url');
      sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 1;
      const tampered = `${token.slice(0, dot)}.${sig.toString('base64url')}`;
      expect(codeOf(() => verifyJwsSignature(tampered, alg, verificationKeyOf(key, alg)))).toBe(
        'ERR_TOKEN_SIGNATURE',
      );
      const otherPayload = `${token.slice(0, token.indexOf('.'))}.e30.${token.slice(dot + 1)}`;
      expect(codeOf(() => verifyJwsSignature(otherPayload, alg, verificationKeyOf(key, alg)))).toBe(
        'ERR_TOKEN_SIGNATURE',
      );
    },
  );

  it('a truncated or empty signature is a refusal, not an exception', async () => {
    const { token, key } = await signed('ES256');
    const head = token.slice(0, token.lastIndexOf('.'));
    for (const bad of [`${head}.`, `${head}.AAAA`])
      expect(codeOf(() => verifyJwsSignature(bad, 'ES256', verificationKeyOf(key, 'ES256')))).toBe(
        'ERR_TOKEN_SIGNATURE',
      );
  });

  it('a key that does not fit the algorithm is refused before any signature work', async () => {
    const p384 = (await signed('ES384')).key;
    expect(codeOf(() => verificationKeyOf(p384, 'ES256'))).toBe('ERR_TOKEN_ALG');
    const ec = (await signed('ES256')).key;
    expect(codeOf(() => verificationKeyOf(ec, 'RS256'))).toBe('ERR_TOKEN_ALG');
    expect(codeOf(() => verificationKeyOf(ec, 'EdDSA'))).toBe('ERR_TOKEN_ALG');
    expect(codeOf(() => verificationKeyOf(ec, 'HS256'))).toBe('ERR_TOKEN_ALG');
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(codeOf(() => verificationKeyOf(weak, 'RS256'))).toBe('ERR_TOKEN_ALG');
    const priv = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(codeOf(() => verificationKeyOf(priv, 'ES256'))).toBe('ERR_TOKEN_ALG');
    expect(codeOf(() => verificationKeyOf(new Uint8Array(32), 'ES256'))).toBe('ERR_TOKEN_ALG');
  });

  it('imports each key once', async () => {
    const { key } = await signed('ES256');
    expect(verificationKeyOf(key, 'ES256')).toBe(verificationKeyOf(key, 'ES256'));
  });
});
