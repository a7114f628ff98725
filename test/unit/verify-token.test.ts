import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { exportJWK, importPKCS8, SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { codeOf } from '../support/codes.js';

describe('createVerifier: RFC 9068 + RFC 8705 table', () => {
  let pki: TestPki;
  let as: TestIssuer;
  let verifier: Verifier;
  let orders: { certPem: string; thumbprint: string; spiffeId: string };
  let attacker: { certPem: string; thumbprint: string };
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    pki = await createTestPki(['orders', 'attacker']);
    as = await createTestIssuer();
    orders = pki.workloads['orders']!;
    attacker = pki.workloads['attacker']!;
    verifier = createVerifier({
      jwks: { keys: as.jwks() },
      issuer: as.issuer,
      audience: as.audience,
      algorithms: ['ES256'],
    });
  });
  afterAll(async () => {
    await verifier.close();
    await pki.cleanup();
  });

  it('valid bound token → Principal', async () => {
    const token = await as.sign(orders.thumbprint);
    const p = await verifier.verify(token, orders.certPem);
    expect(p).toMatchObject({
      subject: 'orders',
      clientId: 'orders',
      scopes: ['payments:read', 'payments:write'],
      audience: [as.audience],
      issuer: as.issuer,
      thumbprint: orders.thumbprint,
      spiffeId: orders.spiffeId,
    });
    expect(p.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('the stolen-token case: token bound to another valid cert → ERR_BINDING_MISMATCH', async () => {
    const token = await as.sign(orders.thumbprint);
    expect(await codeOf(verifier.verify(token, attacker.certPem))).toBe('ERR_BINDING_MISMATCH');
  });

  it('cache hit with a different peer cert → still a mismatch (binding checked every call)', async () => {
    const token = await as.sign(orders.thumbprint);
    await verifier.verify(token, orders.certPem);
    const before = verifier.stats().cacheHits;
    expect(await codeOf(verifier.verify(token, attacker.certPem))).toBe('ERR_BINDING_MISMATCH');
    expect(verifier.stats().cacheHits).toBe(before + 1);
    expect(await codeOf(verifier.verify(token, orders.certPem))).toBe('ACCEPTED');
  });

  it('accepts a precomputed peer identity (thumbprint once per connection)', async () => {
    const token = await as.sign(orders.thumbprint);
    const p = await verifier.verify(token, {
      thumbprint: orders.thumbprint,
      spiffeId: 'spiffe://x/y',
    });
    expect(p.spiffeId).toBe('spiffe://x/y');
  });

  const cases: Array<[string, () => Promise<string>, string]> = [
    ['no cnf', () => as.sign(undefined), 'ERR_CNF_MISSING'],
    [
      'cnf without x5t#S256',
      () => as.sign(undefined, { cnf: { other: 'abc' } }),
      'ERR_CNF_THUMBPRINT_MISSING',
    ],
    [
      'a DPoP-bound token (cnf.jkt) presented as Bearer (RFC 9449 §7.2)',
      () => as.sign(undefined, { cnf: { jkt: 'abc' } }),
      'ERR_DPOP_DOWNGRADE',
    ],
    [
      'padded thumbprint',
      async () => as.sign(`${(await Promise.resolve(orders)).thumbprint}=`),
      'ERR_BINDING_MISMATCH',
    ],
    [
      'hex thumbprint',
      async () => as.sign(Buffer.from(orders.thumbprint, 'base64url').toString('hex')),
      'ERR_BINDING_MISMATCH',
    ],
    [
      'standard-base64 thumbprint',
      async () => as.sign(Buffer.from(orders.thumbprint, 'base64url').toString('base64')),
      'ERR_BINDING_MISMATCH',
    ],
    [
      'expired',
      () => as.sign(orders.thumbprint, { exp: now() - 120, iat: now() - 600 }),
      'ERR_TOKEN_EXPIRED',
    ],
    [
      'nbf in the future',
      () => as.sign(orders.thumbprint, { nbf: now() + 600 }),
      'ERR_TOKEN_NOT_YET_VALID',
    ],
    [
      'wrong iss',
      async () => (await createTestIssuer('k1', 'https://evil.test')).sign(orders.thumbprint),
      'ERR_TOKEN_SIGNATURE',
    ],
    [
      'wrong aud',
      () => as.sign(orders.thumbprint, { aud: 'https://other.test' }),
      'ERR_TOKEN_AUDIENCE',
    ],
    [
      'typ JWT when at+jwt is required',
      () => as.sign(orders.thumbprint, {}, { typ: 'JWT' }),
      'ERR_TOKEN_TYPE',
    ],
    ['garbage string', () => Promise.resolve('not-a-token'), 'ERR_TOKEN_MALFORMED'],
    ['three garbage segments', () => Promise.resolve('aaa.bbb.ccc'), 'ERR_TOKEN_MALFORMED'],
    [
      'header not JSON',
      () => Promise.resolve(`${base64url.encode('{nope')}.${base64url.encode('{}')}.sig`),
      'ERR_TOKEN_MALFORMED',
    ],
    [
      'token over the size limit',
      () => as.sign(orders.thumbprint, { pad: 'x'.repeat(9000) }),
      'ERR_TOKEN_TOO_LARGE',
    ],
    [
      'payload tampered',
      async () => {
        const [h, , s] = (await as.sign(orders.thumbprint)).split('.');
        return `${h}.${base64url.encode(JSON.stringify({ iss: as.issuer, aud: as.audience, exp: now() + 300, iat: now(), cnf: { 'x5t#S256': orders.thumbprint } }))}.${s}`;
      },
      'ERR_TOKEN_SIGNATURE',
    ],
  ];

  /** A token signed over `times` written as raw JSON (`"exp":1e999` survives as Infinity). */
  const rawTimes = (times: string) =>
    as.signRaw(
      `{"iss":${JSON.stringify(as.issuer)},"aud":${JSON.stringify(as.audience)},"sub":"orders","client_id":"orders","cnf":{"x5t#S256":${JSON.stringify(orders.thumbprint)}},${times}}`,
    );
  const DAY = 86_400;
  // RFC 7519 §2 NumericDate and §4.1.4–4.1.6, beyond what jose checks (issue 11 §4).
  const timeCases: Array<[string, () => Promise<string>, string]> = [
    [
      'iat further in the future than the clock tolerance',
      () => as.sign(orders.thumbprint, { iat: now() + 120, exp: now() + 600 }),
      'ERR_TOKEN_NOT_YET_VALID',
    ],
    [
      'iat in the future within the clock tolerance',
      () => as.sign(orders.thumbprint, { iat: now() + 10, exp: now() + 600 }),
      'ACCEPTED',
    ],
    ['exp 1e999 (Infinity)', () => rawTimes(`"iat":${now()},"exp":1e999`), 'ERR_TOKEN_CLAIMS'],
    ['exp -1e999 (-Infinity)', () => rawTimes(`"iat":${now()},"exp":-1e999`), 'ERR_TOKEN_CLAIMS'],
    [
      'exp as a numeric string',
      () => rawTimes(`"iat":${now()},"exp":"${now() + 300}"`),
      'ERR_TOKEN_CLAIMS',
    ],
    ['exp null', () => rawTimes(`"iat":${now()},"exp":null`), 'ERR_TOKEN_CLAIMS'],
    ['exp after the year 9999', () => rawTimes(`"iat":${now()},"exp":1e12`), 'ERR_TOKEN_CLAIMS'],
    [
      'iat 1e999 (Infinity)',
      () => rawTimes(`"iat":1e999,"exp":${now() + 300}`),
      'ERR_TOKEN_CLAIMS',
    ],
    [
      'iat as a string',
      () => rawTimes(`"iat":"${now()}","exp":${now() + 300}`),
      'ERR_TOKEN_CLAIMS',
    ],
    [
      'nbf 1e999 (Infinity)',
      () => rawTimes(`"iat":${now()},"nbf":1e999,"exp":${now() + 300}`),
      'ERR_TOKEN_CLAIMS',
    ],
    [
      'nbf -1e999 (-Infinity)',
      () => rawTimes(`"iat":${now()},"nbf":-1e999,"exp":${now() + 300}`),
      'ERR_TOKEN_CLAIMS',
    ],
    [
      'nbf before 1970',
      () => rawTimes(`"iat":${now()},"nbf":-1,"exp":${now() + 300}`),
      'ERR_TOKEN_CLAIMS',
    ],
    [
      'nbf as a string',
      () => rawTimes(`"iat":${now()},"nbf":"${now()}","exp":${now() + 300}`),
      'ERR_TOKEN_CLAIMS',
    ],
    [
      'exp before iat',
      () => as.sign(orders.thumbprint, { iat: now() + 20, exp: now() + 10 }),
      'ERR_TOKEN_CLAIMS',
    ],
    [
      'lifetime beyond 24 h (exp − iat)',
      () => as.sign(orders.thumbprint, { iat: now(), exp: now() + DAY + 1 }),
      'ERR_TOKEN_LIFETIME',
    ],
    [
      'lifetime of exactly 24 h',
      () => as.sign(orders.thumbprint, { iat: now(), exp: now() + DAY }),
      'ACCEPTED',
    ],
    [
      'a week-old iat with an exp still ahead (lifetime counted from iat)',
      () => as.sign(orders.thumbprint, { iat: now() - 7 * DAY, exp: now() + 300 }),
      'ERR_TOKEN_LIFETIME',
    ],
    [
      'exp a year ahead',
      () => as.sign(orders.thumbprint, { exp: now() + 365 * DAY }),
      'ERR_TOKEN_LIFETIME',
    ],
  ];

  it.each(timeCases)('time claims: %s', async (_name, make, code) => {
    expect(await codeOf(verifier.verify(await make(), orders.certPem))).toBe(code);
  });

  it('a token refused for its time claims never enters the verified-token cache', async () => {
    const v = createVerifier({
      jwks: { keys: as.jwks() },
      issuer: as.issuer,
      audience: as.audience,
    });
    const token = await rawTimes(`"iat":${now()},"exp":1e999`);
    for (let i = 0; i < 3; i++)
      expect(await codeOf(v.verify(token, orders.certPem))).toBe('ERR_TOKEN_CLAIMS');
    expect(v.stats().cacheSize).toBe(0);
  });

  it('maxTokenLifetimeSec is configurable', async () => {
    const v = createVerifier({
      jwks: { keys: as.jwks() },
      issuer: as.issuer,
      audience: as.audience,
      maxTokenLifetimeSec: 600,
    });
    const ok = await as.sign(orders.thumbprint, { iat: now(), exp: now() + 600 });
    const long = await as.sign(orders.thumbprint, { iat: now(), exp: now() + 601 });
    expect(await codeOf(v.verify(ok, orders.certPem))).toBe('ACCEPTED');
    expect(await codeOf(v.verify(long, orders.certPem))).toBe('ERR_TOKEN_LIFETIME');
  });

  it.each([[0], [-1], [Number.NaN], [Number.POSITIVE_INFINITY]])(
    'refuses maxTokenLifetimeSec %s',
    (value) => {
      expect(() =>
        createVerifier({
          jwks: { keys: as.jwks() },
          issuer: as.issuer,
          audience: as.audience,
          maxTokenLifetimeSec: value,
        }),
      ).toThrow(TypeError);
    },
  );

  it.each(cases)('%s → %s', async (_name, make, code) => {
    expect(await codeOf(verifier.verify(await make(), orders.certPem))).toBe(code);
  });

  it('wrong iss signed by the trusted key → ERR_TOKEN_ISSUER', async () => {
    const token = await new SignJWT({ cnf: { 'x5t#S256': orders.thumbprint } })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: as.kid })
      .setIssuer('https://evil.test')
      .setAudience(as.audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(as.privateKey);
    expect(await codeOf(verifier.verify(token, orders.certPem))).toBe('ERR_TOKEN_ISSUER');
  });

  it('missing iat → ERR_TOKEN_CLAIMS', async () => {
    const token = await new SignJWT({ cnf: { 'x5t#S256': orders.thumbprint } })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: as.kid })
      .setIssuer(as.issuer)
      .setAudience(as.audience)
      .setExpirationTime('5m')
      .sign(as.privateKey);
    expect(await codeOf(verifier.verify(token, orders.certPem))).toBe('ERR_TOKEN_CLAIMS');
  });

  it('alg none → ERR_TOKEN_ALG', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
    const payload = base64url.encode(
      JSON.stringify({
        iss: as.issuer,
        aud: as.audience,
        exp: now() + 300,
        iat: now(),
        cnf: { 'x5t#S256': orders.thumbprint },
      }),
    );
    expect(await codeOf(verifier.verify(`${header}.${payload}.`, orders.certPem))).toBe(
      'ERR_TOKEN_ALG',
    );
  });

  it('HS256 signed with the public key bytes → ERR_TOKEN_ALG', async () => {
    const publicPem = createPublicKey({ key: as.publicJwk as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const token = await new SignJWT({ cnf: { 'x5t#S256': orders.thumbprint } })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: as.kid })
      .setIssuer(as.issuer)
      .setAudience(as.audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(String(publicPem)));
    expect(await codeOf(verifier.verify(token, orders.certPem))).toBe('ERR_TOKEN_ALG');
  });

  it('RS256 when only ES256 is allowed (key present in the JWKS) → ERR_TOKEN_ALG', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa1', alg: 'RS256' };
    const v = createVerifier({
      jwks: { keys: { keys: [as.publicJwk, rsaJwk] } },
      issuer: as.issuer,
      audience: as.audience,
      algorithms: ['ES256'],
    });
    const key = await importPKCS8(
      rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      'RS256',
    );
    const token = await new SignJWT({ cnf: { 'x5t#S256': orders.thumbprint } })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'rsa1' })
      .setIssuer(as.issuer)
      .setAudience(as.audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    expect(await codeOf(v.verify(token, orders.certPem))).toBe('ERR_TOKEN_ALG');
  });

  it('no peer certificate → ERR_PEER_CERT_MISSING; empty token → ERR_TOKEN_MISSING', async () => {
    const token = await as.sign(orders.thumbprint);
    expect(await codeOf(verifier.verify(token, null))).toBe('ERR_PEER_CERT_MISSING');
    expect(await codeOf(verifier.verify('', orders.certPem))).toBe('ERR_TOKEN_MISSING');
  });

  it('a cached token past its exp is refused (exp checked on every call)', async () => {
    let clock = Date.now();
    const v = createVerifier({
      jwks: { keys: as.jwks() },
      issuer: as.issuer,
      audience: as.audience,
      clockToleranceSec: 0,
      now: () => clock,
    });
    const token = await as.sign(orders.thumbprint, { exp: Math.floor(clock / 1000) + 60 });
    expect(await codeOf(v.verify(token, orders.certPem))).toBe('ACCEPTED');
    clock += 61_000;
    expect(await codeOf(v.verify(token, orders.certPem))).toBe('ERR_TOKEN_EXPIRED');
  });

  it('warm cache skips signature work: one miss then hits', async () => {
    const v = createVerifier({
      jwks: { keys: as.jwks() },
      issuer: as.issuer,
      audience: as.audience,
    });
    const token = await as.sign(orders.thumbprint);
    await Promise.all(Array.from({ length: 10 }, () => v.verify(token, orders.certPem)));
    for (let i = 0; i < 5; i++) await v.verify(token, orders.certPem);
    expect(v.stats().cacheSize).toBe(1);
    expect(v.stats().cacheHits).toBeGreaterThanOrEqual(5);
  });

  it('per-connection memo: same token on one connection is a hit; exp and binding still checked', async () => {
    let clock = Date.now();
    const v = createVerifier({
      jwks: { keys: as.jwks() },
      issuer: as.issuer,
      audience: as.audience,
      clockToleranceSec: 0,
      now: () => clock,
    });
    const token = await as.sign(orders.thumbprint, { exp: Math.floor(clock / 1000) + 60 });
    const connection = { thumbprint: orders.thumbprint, spiffeId: orders.spiffeId };
    const first = await v.verify(token, connection);
    const hits = v.stats().cacheHits;
    expect(await v.verify(token, connection)).toBe(first);
    expect(v.stats().cacheHits).toBe(hits + 1);
    expect(Object.isFrozen(first)).toBe(true);
    // Another connection (another certificate) never benefits from this connection's memo.
    expect(await codeOf(v.verify(token, { thumbprint: attacker.thumbprint }))).toBe(
      'ERR_BINDING_MISMATCH',
    );
    // A different token on the same connection is verified in full.
    expect(await codeOf(v.verify(await as.sign(undefined), connection))).toBe('ERR_CNF_MISSING');
    clock += 61_000;
    expect(await codeOf(v.verify(token, connection))).toBe('ERR_TOKEN_EXPIRED');
  });

  it.each([['none'], ['HS256'], ['hs512']])('refuses to be configured with %s', (alg) => {
    expect(() =>
      createVerifier({
        jwks: { keys: as.jwks() },
        issuer: as.issuer,
        audience: as.audience,
        algorithms: ['ES256', alg],
      }),
    ).toThrow(TypeError);
  });

  it('refuses a configuration without issuer or audience', () => {
    expect(() =>
      createVerifier({ jwks: { keys: as.jwks() }, issuer: '', audience: as.audience }),
    ).toThrow(TypeError);
    expect(() =>
      createVerifier({ jwks: { keys: as.jwks() }, issuer: as.issuer, audience: [] }),
    ).toThrow(TypeError);
  });
});
