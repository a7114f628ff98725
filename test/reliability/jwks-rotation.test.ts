import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { TokenClient } from '../../src/token/token-client.js';
import { createVerifier } from '../../src/verify/create-verifier.js';
import { PAYMENTS, sourceOf, startTestAs, type AsFixture } from '../support/as.js';
import { codeOf } from '../support/codes.js';

let fx: AsFixture;
let source: StaticX509Source;
let tokens: TokenClient;

beforeAll(async () => {
  fx = await startTestAs();
  source = sourceOf(fx.pki.workloads['orders']!);
  tokens = new TokenClient({
    source,
    clientId: 'orders',
    issuer: fx.as.issuer,
    ca: fx.pki.ca.certPem,
  });
});

afterAll(async () => {
  await tokens?.close();
  await source?.close();
  await fx?.close();
});

async function freshToken(): Promise<string> {
  tokens.invalidate();
  return (await tokens.get({ resource: PAYMENTS })).accessToken;
}

describe('signing-key rotation at the AS and JWKS outages (real oidc-provider)', () => {
  it('after rotateSigningKey, tokens with the new kid verify after exactly one JWKS refetch', async () => {
    const orders = fx.pki.workloads['orders']!;
    const verifier = createVerifier({
      jwks: { url: fx.as.jwksUri, ca: fx.pki.ca.certPem, cooldownMs: 0 },
      issuer: fx.as.issuer,
      audience: PAYMENTS,
      cacheSize: 0,
    });
    try {
      const before = await freshToken();
      const jwks0 = fx.as.requestCounts.jwks;
      expect(await codeOf(verifier.verify(before, orders.certPem))).toBe('ACCEPTED');
      expect(fx.as.requestCounts.jwks).toBe(jwks0 + 1);

      await fx.as.rotateSigningKey();
      const after = await freshToken();
      const oldKid = decodeProtectedHeader(before).kid;
      const newKid = decodeProtectedHeader(after).kid;
      expect(newKid).toBeDefined();
      expect(newKid).not.toBe(oldKid);

      // Unknown kid → one refetch → verified.
      expect(await codeOf(verifier.verify(after, orders.certPem))).toBe('ACCEPTED');
      expect(fx.as.requestCounts.jwks).toBe(jwks0 + 2);
      // Then both keys are known: 20 more verifications (no cache) cost no fetch.
      for (let i = 0; i < 10; i++) {
        expect(await codeOf(verifier.verify(after, orders.certPem))).toBe('ACCEPTED');
        expect(await codeOf(verifier.verify(before, orders.certPem))).toBe('ACCEPTED');
      }
      expect(fx.as.requestCounts.jwks).toBe(jwks0 + 2);
      // The binding is still checked with the new key.
      expect(await codeOf(verifier.verify(after, fx.pki.workloads['attacker']!.certPem))).toBe(
        'ERR_BINDING_MISMATCH',
      );
    } finally {
      await verifier.close();
    }
  });

  it('JWKS endpoint down: the keys fetched before keep verifying (each refetch fails, none is needed)', async () => {
    const orders = fx.pki.workloads['orders']!;
    // cacheMaxAgeMs 1: every verification tries to refetch, so the fallback path is exercised.
    const verifier = createVerifier({
      jwks: {
        url: fx.as.jwksUri,
        ca: fx.pki.ca.certPem,
        cooldownMs: 0,
        cacheMaxAgeMs: 1,
        timeoutMs: 2_000,
      },
      issuer: fx.as.issuer,
      audience: PAYMENTS,
      cacheSize: 0,
    });
    try {
      const first = await freshToken();
      const second = await freshToken();
      expect(await codeOf(verifier.verify(first, orders.certPem))).toBe('ACCEPTED');
      await fx.as.stop();
      const outcomes: string[] = [];
      try {
        for (let i = 0; i < 10; i++) {
          outcomes.push(await codeOf(verifier.verify(first, orders.certPem)));
          // Never verified before: proves signature work with the cached keys, not the token cache.
          outcomes.push(await codeOf(verifier.verify(second, orders.certPem)));
        }
        outcomes.push(await codeOf(verifier.verify(first, fx.pki.workloads['attacker']!.certPem)));
      } finally {
        await fx.as.start();
      }
      expect(outcomes.slice(0, 20)).toEqual(Array(20).fill('ACCEPTED'));
      expect(outcomes[20]).toBe('ERR_BINDING_MISMATCH');
    } finally {
      await verifier.close();
    }
  });

  it('JWKS endpoint down before any key was fetched → ERR_JWKS_UNAVAILABLE (fail closed)', async () => {
    const token = await freshToken();
    const verifier = createVerifier({
      jwks: { url: fx.as.jwksUri, ca: fx.pki.ca.certPem, timeoutMs: 2_000 },
      issuer: fx.as.issuer,
      audience: PAYMENTS,
    });
    await fx.as.stop();
    try {
      expect(await codeOf(verifier.verify(token, fx.pki.workloads['orders']!.certPem))).toBe(
        'ERR_JWKS_UNAVAILABLE',
      );
    } finally {
      await fx.as.start();
      await verifier.close();
    }
  });
});
