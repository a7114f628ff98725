import { beforeAll, describe, expect, it } from 'vitest';
import { CompactSign } from 'jose';
import type { PeerIdentity } from '../../src/binding/peer-identity.js';
import { CertboundError } from '../../src/errors.js';
import { authorizeRequest } from '../../src/verify/authorize-request.js';
import {
  createMultiIssuerVerifier,
  type IssuerOptions,
} from '../../src/verify/multi-issuer-verifier.js';
import type { Verifier } from '../../src/verify/create-verifier.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';

const PEER: PeerIdentity = { thumbprint: 'A'.repeat(43), spiffeId: 'spiffe://d/orders' };
const AUD = 'https://payments.test';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
}

describe('createMultiIssuerVerifier: each JWT goes to exactly the issuer it claims', () => {
  let a: TestIssuer;
  let b: TestIssuer;
  let verifier: Verifier;

  const jwtIssuer = (i: TestIssuer): IssuerOptions => ({
    issuer: i.issuer,
    audience: AUD,
    jwks: { keys: i.jwks() },
  });

  beforeAll(async () => {
    a = await createTestIssuer('kA', 'https://a.test', AUD);
    b = await createTestIssuer('kB', 'https://b.test', AUD);
    verifier = createMultiIssuerVerifier({ issuers: [jwtIssuer(a), jwtIssuer(b)] });
  });

  /** A token signed with `signer`'s key that claims `claimed`'s issuer. */
  async function forged(signer: TestIssuer, claimed: TestIssuer, kid: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload = JSON.stringify({
      iss: claimed.issuer,
      aud: AUD,
      sub: 'orders',
      client_id: 'orders',
      iat: now,
      exp: now + 300,
      cnf: { 'x5t#S256': PEER.thumbprint },
    });
    return new CompactSign(new TextEncoder().encode(payload))
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .sign(signer.privateKey);
  }

  it("accepts each issuer's own tokens", async () => {
    for (const issuer of [a, b]) {
      const principal = await verifier.verify(await issuer.sign(PEER.thumbprint), PEER);
      expect(principal.issuer).toBe(issuer.issuer);
      expect(principal.validator).toBe('jwt');
    }
  });

  it("refuses a token signed by A's key that claims issuer B (B's keys only, FAPI 2.0 §6.3)", async () => {
    expect(await codeOf(verifier.verify(await forged(a, b, 'kA'), PEER))).toBe(
      'ERR_TOKEN_UNKNOWN_KEY',
    );
    // Even naming B's kid: B's key does not verify A's signature.
    expect(await codeOf(verifier.verify(await forged(a, b, 'kB'), PEER))).toBe(
      'ERR_TOKEN_SIGNATURE',
    );
  });

  it('refuses a JWT of an issuer not configured (ERR_TOKEN_ISSUER) and a payload without iss', async () => {
    const c = await createTestIssuer('kC', 'https://c.test', AUD);
    expect(await codeOf(verifier.verify(await c.sign(PEER.thumbprint), PEER))).toBe(
      'ERR_TOKEN_ISSUER',
    );
    const noIss = await c.signRaw(JSON.stringify({ aud: AUD, exp: 2_000_000_000 }));
    expect(await codeOf(verifier.verify(noIss, PEER))).toBe('ERR_TOKEN_MALFORMED');
  });

  it('refuses an opaque token when no issuer introspects, and an oversized token before decoding it', async () => {
    expect(await codeOf(verifier.verify('opaque-reference-token', PEER))).toBe(
      'ERR_TOKEN_MALFORMED',
    );
    expect(await codeOf(verifier.verify(`a.${'b'.repeat(9000)}.c`, PEER))).toBe(
      'ERR_TOKEN_TOO_LARGE',
    );
  });

  it('a policy requiring issuer B refuses tokens of A with ERR_POLICY_DENIED', async () => {
    const policies = [{ prefix: '/b-only', issuers: [b.issuer] }];
    const call = (token: string) =>
      authorizeRequest(
        { authorization: [`Bearer ${token}`], method: 'GET', path: '/b-only/x', peer: PEER },
        verifier.pipeline,
        policies,
      );
    expect(await codeOf(call(await a.sign(PEER.thumbprint)))).toBe('ERR_POLICY_DENIED');
    await expect(call(await b.sign(PEER.thumbprint))).resolves.toMatchObject({
      issuer: b.issuer,
    });
  });

  it('refuses unusable lists at once', () => {
    expect(() => createMultiIssuerVerifier({ issuers: [] })).toThrow(TypeError);
    expect(() => createMultiIssuerVerifier({ issuers: [jwtIssuer(a), jwtIssuer(a)] })).toThrow(
      /listed twice/,
    );
    expect(() =>
      createMultiIssuerVerifier({ issuers: [{ issuer: a.issuer, audience: AUD }] }),
    ).toThrow(/jwks or introspection/);
    const introspecting = (issuer: string): IssuerOptions => ({
      issuer,
      audience: AUD,
      introspection: { endpoint: `${issuer}/introspect`, clientId: 'rs' },
    });
    expect(() =>
      createMultiIssuerVerifier({
        issuers: [introspecting('https://x.test'), introspecting('https://y.test')],
      }),
    ).toThrow(/only one issuer/);
  });
});
