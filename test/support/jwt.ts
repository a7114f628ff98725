import {
  CompactSign,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTPayload,
  type CryptoKey,
} from 'jose';

/** An issuer of test access tokens with its own ES256 key. */
export interface TestIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly kid: string;
  readonly publicJwk: JWK;
  jwks(): { keys: JWK[] };
  /** Signs an RFC 9068 access token bound to `thumbprint` (override anything via `claims`). */
  sign(
    thumbprint: string | undefined,
    claims?: JWTPayload,
    header?: { typ?: string; kid?: string },
  ): Promise<string>;
  /**
   * Signs `payloadJson` byte for byte (header `at+jwt`, this issuer's key): for claims jose's
   * builder refuses to write, such as `"exp": 1e999` or `"exp": "soon"`.
   */
  signRaw(payloadJson: string): Promise<string>;
  readonly privateKey: CryptoKey;
}

/** Creates a test issuer with a fresh ES256 key (kid `k1` unless given). */
export async function createTestIssuer(
  kid = 'k1',
  issuer = 'https://as.test',
  audience = 'https://payments.test',
): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return {
    issuer,
    audience,
    kid,
    publicJwk,
    privateKey,
    jwks: () => ({ keys: [publicJwk] }),
    signRaw: (payloadJson) =>
      new CompactSign(new TextEncoder().encode(payloadJson))
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .sign(privateKey),
    async sign(thumbprint, claims = {}, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        client_id: 'orders',
        scope: 'payments:read payments:write',
        ...(thumbprint !== undefined ? { cnf: { 'x5t#S256': thumbprint } } : {}),
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: header.typ ?? 'at+jwt', kid: header.kid ?? kid })
        .setIssuer(issuer)
        .setAudience(claims.aud ?? audience)
        .setSubject(typeof claims.sub === 'string' ? claims.sub : 'orders')
        .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : now)
        .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 300)
        .sign(privateKey);
    },
  };
}
