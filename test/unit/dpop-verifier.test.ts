import { createHash, generateKeyPairSync, sign, webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { checkJktBinding } from '../../src/binding/check-jkt-binding.js';
import { CertboundError, type ErrorCode } from '../../src/errors.js';
import { createDpopVerifier } from '../../src/verify/dpop/dpop-verifier.js';
import { createMemoryReplayStore } from '../../src/verify/dpop/memory-replay-store.js';
import { normaliseHtu } from '../../src/verify/dpop/htu.js';
import { dpopClient, proofBy } from '../support/dpop-client.js';

const ORIGIN = 'https://api.bank.example';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
}

/** The whole step the pipeline runs: verify, then commit. */
async function accept(
  verifier: ReturnType<typeof createDpopVerifier>,
  proof: string | string[],
  method = 'GET',
  path = '/accounts',
  token = TOKEN,
): Promise<string> {
  const verified = await verifier.verify({
    proofs: Array.isArray(proof) ? proof : [proof],
    method,
    path,
    accessToken: token,
  });
  await verified.commit();
  return verified.jkt;
}

const es256 = await generateKeyPair('ES256', { extractable: true });
const es256Jwk = await exportJWK(es256.publicKey);
const other = await generateKeyPair('ES256');
const privateJwk = await exportJWK(
  (await generateKeyPair('ES256', { extractable: true })).privateKey,
);

/** A proof made with jose, every part overridable (for the refusals). */
async function craft(
  opts: {
    header?: Record<string, unknown>;
    claims?: Record<string, unknown>;
    drop?: string[];
    key?: CryptoKey;
  } = {},
): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: 'GET',
    htu: `${ORIGIN}/accounts`,
    iat: Math.floor(Date.now() / 1000),
    jti: crypto.randomUUID(),
    ath: ath(TOKEN),
    ...opts.claims,
  };
  for (const name of opts.drop ?? []) delete claims[name];
  const header = { alg: 'ES256', typ: 'dpop+jwt', jwk: es256Jwk, ...opts.header };
  return new SignJWT(claims).setProtectedHeader(header).sign(opts.key ?? es256.privateKey);
}

describe('DPoP proofs from independent clients (oauth4webapi DPoP handle)', () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256', 'PS256']) {
    it(`accepts an oauth4webapi ${alg} proof and returns its RFC 7638 thumbprint`, async () => {
      const verifier = createDpopVerifier({ publicOrigin: ORIGIN });
      const client = await dpopClient(alg);
      const proof = await proofBy(client, TOKEN, 'GET', `${ORIGIN}/accounts?page=2`);
      const jkt = await accept(verifier, proof);
      expect(jkt).toBe(await client.handle.calculateThumbprint());
    });
  }

  it('accepts a proof signed with a WebCrypto non-extractable P-256 key (as a browser makes one)', async () => {
    const keyPair = await webcrypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign', 'verify'],
    );
    expect(keyPair.privateKey.extractable).toBe(false);
    const client = await dpopClient('ES256', keyPair);
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN });
    const proof = await proofBy(client, TOKEN, 'POST', `${ORIGIN}/payments`);
    expect(await accept(verifier, proof, 'POST', '/payments')).toBe(
      await client.handle.calculateThumbprint(),
    );
  });
});

describe('RFC 9449 §4.3: every check refuses with its own code', () => {
  const verifier = createDpopVerifier({ publicOrigin: ORIGIN, maxProofBytes: 2048 });
  const hs = new TextEncoder().encode('x'.repeat(32));
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const cases: Array<[string, () => Promise<string | string[]>, ErrorCode, string?, string?]> = [
    ['point 1: no proof', async () => [], 'ERR_DPOP_PROOF_MISSING'],
    [
      'point 1: two DPoP headers',
      async () => [await craft(), await craft()],
      'ERR_DPOP_PROOF_MULTIPLE',
    ],
    [
      'point 1: two proofs in one header',
      async () => `${await craft()}, ${await craft()}`,
      'ERR_DPOP_PROOF_MULTIPLE',
    ],
    [
      'size limit',
      async () => craft({ claims: { pad: 'x'.repeat(3000) } }),
      'ERR_DPOP_PROOF_TOO_LARGE',
    ],
    ['point 2: not a JWT', async () => 'not-a-jwt', 'ERR_DPOP_PROOF_MALFORMED'],
    [
      'point 2: unsecured JWS (empty signature)',
      async () => `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: es256Jwk })}.${b64({ htm: 'GET' })}.`,
      'ERR_DPOP_PROOF_MALFORMED',
    ],
    [
      'point 2: payload is not JSON',
      async () => `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: es256Jwk })}.bm90LWpzb24.c2ln`,
      'ERR_DPOP_PROOF_MALFORMED',
    ],
    ['point 4: typ jwt', async () => craft({ header: { typ: 'JWT' } }), 'ERR_DPOP_PROOF_MALFORMED'],
    [
      'point 4: typ at+jwt (an access token as proof)',
      async () => craft({ header: { typ: 'at+jwt' } }),
      'ERR_DPOP_PROOF_MALFORMED',
    ],
    [
      'point 4: no typ',
      async () => craft({ header: { typ: undefined } }),
      'ERR_DPOP_PROOF_MALFORMED',
    ],
    [
      'point 5: alg none with a signature',
      async () =>
        `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: es256Jwk })}.${(await craft()).split('.')[1]}.c2ln`,
      'ERR_DPOP_ALG',
    ],
    [
      'point 5: HS256 with a symmetric jwk',
      async () =>
        new SignJWT({
          htm: 'GET',
          htu: `${ORIGIN}/accounts`,
          iat: Math.floor(Date.now() / 1000),
          jti: 'h',
          ath: ath(TOKEN),
        })
          .setProtectedHeader({
            alg: 'HS256',
            typ: 'dpop+jwt',
            jwk: { kty: 'oct', k: Buffer.from(hs).toString('base64url') } as unknown as JWK,
          })
          .sign(hs),
      'ERR_DPOP_ALG',
    ],
    [
      'point 5: an alg not in the list (ES256K)',
      async () =>
        `${b64({ alg: 'ES256K', typ: 'dpop+jwt', jwk: es256Jwk })}.${(await craft()).split('.')[1]}.c2ln`,
      'ERR_DPOP_ALG',
    ],
    ['point 7: no jwk', async () => craft({ header: { jwk: undefined } }), 'ERR_DPOP_JWK'],
    [
      'point 7: jwk with the private key (d)',
      async () => craft({ header: { jwk: privateJwk } }),
      'ERR_DPOP_JWK',
    ],
    [
      'point 7: symmetric jwk (kty oct) with ES256',
      async () => craft({ header: { jwk: { kty: 'oct', k: 'AAAA' } } }),
      'ERR_DPOP_JWK',
    ],
    [
      'point 7: jwk that is not an object',
      async () => craft({ header: { jwk: 'key' } }),
      'ERR_DPOP_JWK',
    ],
    [
      'point 7: RSA key below 2048 bits',
      async () => {
        const input = `${b64({ alg: 'RS256', typ: 'dpop+jwt', jwk: rsa1024.publicKey.export({ format: 'jwk' }) })}.${(await craft()).split('.')[1]}`;
        return `${input}.${sign('sha256', Buffer.from(input), rsa1024.privateKey).toString('base64url')}`;
      },
      'ERR_DPOP_JWK',
    ],
    [
      'point 7: jwk of another curve than alg',
      async () => craft({ header: { jwk: { ...es256Jwk, crv: 'P-384' } } }),
      'ERR_DPOP_JWK',
    ],
    [
      'point 6: signed by another key than its jwk',
      async () => craft({ key: other.privateKey }),
      'ERR_DPOP_SIGNATURE',
    ],
    [
      'point 6: payload changed after signing',
      async () => {
        const [h, , s] = (await craft()).split('.');
        return `${h}.${(await craft({ claims: { jti: 'other' } })).split('.')[1]}.${s}`;
      },
      'ERR_DPOP_SIGNATURE',
    ],
    [
      'point 8: htm of another method',
      async () => craft({ claims: { htm: 'POST' } }),
      'ERR_DPOP_HTM',
    ],
    ['point 8: htm in lower case', async () => craft({ claims: { htm: 'get' } }), 'ERR_DPOP_HTM'],
    ['point 8: no htm', async () => craft({ drop: ['htm'] }), 'ERR_DPOP_PROOF_MALFORMED'],
    [
      'point 9: htu of another host',
      async () => craft({ claims: { htu: 'https://evil.example/accounts' } }),
      'ERR_DPOP_HTU',
    ],
    [
      'point 9: htu of another path',
      async () => craft({ claims: { htu: `${ORIGIN}/accounts/1` } }),
      'ERR_DPOP_HTU',
    ],
    [
      'point 9: htu over http',
      async () => craft({ claims: { htu: 'http://api.bank.example/accounts' } }),
      'ERR_DPOP_HTU',
    ],
    [
      'point 9: htu on another port',
      async () => craft({ claims: { htu: `${ORIGIN}:8443/accounts` } }),
      'ERR_DPOP_HTU',
    ],
    [
      'point 9: htu with userinfo',
      async () => craft({ claims: { htu: 'https://u@api.bank.example/accounts' } }),
      'ERR_DPOP_HTU',
    ],
    [
      'point 9: htu with a backslash',
      async () => craft({ claims: { htu: 'https://api.bank.example\\accounts' } }),
      'ERR_DPOP_HTU',
    ],
    ['point 9: htu relative', async () => craft({ claims: { htu: '/accounts' } }), 'ERR_DPOP_HTU'],
    [
      'point 11: iat 2 minutes old',
      async () => craft({ claims: { iat: Math.floor(Date.now() / 1000) - 120 } }),
      'ERR_DPOP_IAT',
    ],
    [
      'point 11: iat 2 minutes ahead',
      async () => craft({ claims: { iat: Math.floor(Date.now() / 1000) + 120 } }),
      'ERR_DPOP_IAT',
    ],
    [
      'point 11: iat as a string',
      async () => craft({ claims: { iat: String(Math.floor(Date.now() / 1000)) } }),
      'ERR_DPOP_PROOF_MALFORMED',
    ],
    [
      'point 11: exp in the past',
      async () => craft({ claims: { exp: Math.floor(Date.now() / 1000) - 10 } }),
      'ERR_DPOP_IAT',
    ],
    ['point 3: no jti', async () => craft({ drop: ['jti'] }), 'ERR_DPOP_PROOF_MALFORMED'],
    [
      'point 3: jti not a string',
      async () => craft({ claims: { jti: 7 } }),
      'ERR_DPOP_PROOF_MALFORMED',
    ],
    ['point 12: no ath', async () => craft({ drop: ['ath'] }), 'ERR_DPOP_ATH'],
    [
      'point 12: ath of another token',
      async () => craft({ claims: { ath: ath('another-token') } }),
      'ERR_DPOP_ATH',
    ],
    [
      'point 12: ath padded',
      async () => craft({ claims: { ath: `${ath(TOKEN)}=` } }),
      'ERR_DPOP_ATH',
    ],
  ];
  for (const [name, make, code] of cases) {
    it(`${name} → ${code}`, async () => {
      const proof = await make();
      expect(await codeOf(accept(verifier, proof))).toBe(code);
    });
  }

  it('a well-formed control proof passes (the table can fail only on its point)', async () => {
    expect(await codeOf(accept(verifier, await craft()))).toBe('ok');
  });

  it('every refusal carries the allowed algs for the challenge, never the proof', async () => {
    const proof = await craft({ claims: { htm: 'PUT' } });
    const err = await verifier
      .verify({ proofs: [proof], method: 'GET', path: '/accounts', accessToken: TOKEN })
      .catch((e: unknown) => e as CertboundError);
    expect(err).toBeInstanceOf(CertboundError);
    expect((err as CertboundError).details['dpopAlgs']).toBe(verifier.algorithms.join(' '));
    expect(
      JSON.stringify((err as CertboundError).details) + (err as CertboundError).message,
    ).not.toContain(proof.split('.')[2]);
  });

  it('refuses to configure none, HS256 or an unknown algorithm', () => {
    for (const alg of ['none', 'HS256', 'hs512', 'ES256K'])
      expect(() => createDpopVerifier({ publicOrigin: ORIGIN, algorithms: [alg] })).toThrow(
        TypeError,
      );
    expect(() => createDpopVerifier({ publicOrigin: 'https://a.example/path' })).toThrow(TypeError);
    expect(() => createDpopVerifier({ publicOrigin: 'http://a.example' })).toThrow(TypeError);
  });

  it('the iat window is configurable', async () => {
    const wide = createDpopVerifier({ publicOrigin: ORIGIN, iatWindowMs: 300_000 });
    const old = await craft({ claims: { iat: Math.floor(Date.now() / 1000) - 120 } });
    expect(await codeOf(accept(wide, old))).toBe('ok');
  });
});

describe('htu: RFC 3986 §6.2.2 normalisation on both sides', () => {
  const verifier = createDpopVerifier({ publicOrigin: 'https://API.Bank.example:443' });
  for (const htu of [
    'https://api.bank.example/accounts',
    'HTTPS://API.BANK.EXAMPLE/accounts',
    'https://api.bank.example:443/accounts',
    'https://api.bank.example/x/../accounts',
    'https://api.bank.example/./accounts',
    'https://api.bank.example/%61ccounts',
    'https://api.bank.example/accounts?q=1#frag',
  ]) {
    it(`accepts ${htu}`, async () => {
      expect(await codeOf(accept(verifier, await craft({ claims: { htu } })))).toBe('ok');
    });
  }
  it('normalises percent-escapes to upper-case hex and decodes unreserved ones', () => {
    expect(normaliseHtu('https://a.example/%7e%3a')).toBe('https://a.example/~%3A');
    expect(normaliseHtu('https://a.example')).toBe('https://a.example/');
  });
});

describe('server nonces (RFC 9449 §8): stateless HMAC of a time step', () => {
  const key = new Uint8Array(32).fill(7);
  let clock = 1_700_000_000_000;
  const now = (): number => clock;

  it('challenges a proof without nonce, and oauth4webapi retries with the DPoP-Nonce sent', async () => {
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN, nonce: { key } });
    const client = await dpopClient('ES256');
    const first = await client.request(TOKEN, 'GET', `${ORIGIN}/accounts`);
    const err = await verifier
      .verify({ proofs: [first.proof], method: 'GET', path: '/accounts', accessToken: TOKEN })
      .catch((e: unknown) => e as CertboundError);
    expect((err as CertboundError).code).toBe('ERR_DPOP_NONCE_REQUIRED');
    const nonce = (err as CertboundError).details['dpopNonce'];
    expect(typeof nonce).toBe('string');
    // The client learns the nonce from a response header, as over the wire.
    await client.request(
      TOKEN,
      'GET',
      `${ORIGIN}/accounts`,
      () => new Response(null, { status: 200, headers: { 'dpop-nonce': nonce as string } }),
    );
    const retry = await client.request(TOKEN, 'GET', `${ORIGIN}/accounts`);
    expect(await codeOf(accept(verifier, retry.proof))).toBe('ok');
  });

  it('accepts the previous step, refuses an older one (stale) and a forged one', async () => {
    const stepMs = 60_000;
    const verifier = createDpopVerifier({
      publicOrigin: ORIGIN,
      nonce: { key, stepMs },
      now,
      iatWindowMs: 10 * stepMs,
    });
    const iat = (): number => Math.floor(clock / 1000);
    const nonce = verifier.nonceForResponse() as string;
    clock += stepMs;
    expect(await codeOf(accept(verifier, await craft({ claims: { nonce, iat: iat() } })))).toBe(
      'ok',
    );
    expect(verifier.nonceForResponse()).not.toBe(nonce);
    clock += stepMs;
    expect(await codeOf(accept(verifier, await craft({ claims: { nonce, iat: iat() } })))).toBe(
      'ERR_DPOP_NONCE_INVALID',
    );
    const forged = Buffer.from(nonce, 'base64url');
    forged[20] = (forged[20] as number) ^ 1;
    expect(
      await codeOf(
        accept(
          verifier,
          await craft({ claims: { nonce: forged.toString('base64url'), iat: iat() } }),
        ),
      ),
    ).toBe('ERR_DPOP_NONCE_INVALID');
    expect(
      await codeOf(accept(verifier, await craft({ claims: { nonce: 'made-up', iat: iat() } }))),
    ).toBe('ERR_DPOP_NONCE_INVALID');
    expect(await codeOf(accept(verifier, await craft({ claims: { nonce: 42, iat: iat() } })))).toBe(
      'ERR_DPOP_NONCE_INVALID',
    );
  });

  it('replicas sharing the key accept each other’s nonces; another key’s nonce is refused', async () => {
    const a = createDpopVerifier({ publicOrigin: ORIGIN, nonce: { key } });
    const b = createDpopVerifier({ publicOrigin: ORIGIN, nonce: { key } });
    const c = createDpopVerifier({ publicOrigin: ORIGIN, nonce: {} });
    const nonce = a.nonceForResponse() as string;
    expect(await codeOf(accept(b, await craft({ claims: { nonce } })))).toBe('ok');
    expect(await codeOf(accept(c, await craft({ claims: { nonce } })))).toBe(
      'ERR_DPOP_NONCE_INVALID',
    );
  });

  it('no nonce is pushed when nonces are off', () => {
    expect(createDpopVerifier({ publicOrigin: ORIGIN }).nonceForResponse()).toBeUndefined();
  });
});

describe('replay (RFC 9449 §11.1): (jkt, jti) remembered for the acceptance window', () => {
  it('refuses the same proof twice', async () => {
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN });
    const proof = await craft();
    expect(await codeOf(accept(verifier, proof))).toBe('ok');
    expect(await codeOf(accept(verifier, proof))).toBe('ERR_DPOP_REPLAY');
  });

  it('of 20 concurrent uses of one proof exactly one passes', async () => {
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN });
    const proof = await craft();
    const codes = await Promise.all(
      Array.from({ length: 20 }, () => codeOf(accept(verifier, proof))),
    );
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'ERR_DPOP_REPLAY')).toHaveLength(19);
  });

  it('a proof that is only verified (a later check failed) is not recorded', async () => {
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN });
    const proof = await craft();
    await verifier.verify({
      proofs: [proof],
      method: 'GET',
      path: '/accounts',
      accessToken: TOKEN,
    });
    expect(await codeOf(accept(verifier, proof))).toBe('ok');
  });

  it('the same jti under another key is not a replay', async () => {
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN });
    const k2 = await generateKeyPair('ES256', { extractable: true });
    expect(await codeOf(accept(verifier, await craft({ claims: { jti: 'same' } })))).toBe('ok');
    expect(
      await codeOf(
        accept(
          verifier,
          await craft({
            claims: { jti: 'same' },
            key: k2.privateKey,
            header: { jwk: await exportJWK(k2.publicKey) },
          }),
        ),
      ),
    ).toBe('ok');
  });

  it('the in-memory store forgets expired proofs and, full of live ones, fails closed', async () => {
    let clock = 0;
    const store = createMemoryReplayStore({ maxEntries: 2, now: () => clock });
    expect(await store.remember('a', 1000)).toBe(true);
    expect(await store.remember('b', 1000)).toBe(true);
    expect(await codeOf(store.remember('c', 1000))).toBe('ERR_DPOP_REPLAY_STORE_UNAVAILABLE');
    expect(await store.remember('a', 1000)).toBe(false);
    clock = 1000;
    expect(await store.remember('c', 1000)).toBe(true);
    expect(await store.remember('a', 1000)).toBe(true);
  });
});

describe('cnf.jkt binding (RFC 9449 §6): a stolen token with the thief’s own key', () => {
  it('refuses a proof by another key than the token is bound to, in constant time', async () => {
    const victim = await dpopClient('ES256');
    const thief = await dpopClient('ES256');
    const claims = { cnf: { jkt: await victim.handle.calculateThumbprint() } };
    const verifier = createDpopVerifier({ publicOrigin: ORIGIN });
    const jkt = await accept(verifier, await proofBy(thief, TOKEN, 'GET', `${ORIGIN}/accounts`));
    expect(() => checkJktBinding(claims, jkt)).toThrow(
      expect.objectContaining({ code: 'ERR_DPOP_KEY_MISMATCH' }),
    );
    const own = await accept(verifier, await proofBy(victim, TOKEN, 'GET', `${ORIGIN}/accounts`));
    expect(() => checkJktBinding(claims, own)).not.toThrow();
  });

  it('refuses a token without cnf.jkt, and near-miss encodings of the thumbprint', async () => {
    const jkt = await calculateJwkThumbprint(es256Jwk);
    expect(() => checkJktBinding({}, jkt)).toThrow(
      expect.objectContaining({ code: 'ERR_DPOP_NOT_BOUND' }),
    );
    expect(() => checkJktBinding({ cnf: { 'x5t#S256': jkt } }, jkt)).toThrow(
      expect.objectContaining({ code: 'ERR_DPOP_NOT_BOUND' }),
    );
    for (const near of [
      `${jkt}=`,
      Buffer.from(jkt, 'base64url').toString('base64'),
      Buffer.from(jkt, 'base64url').toString('hex'),
      jkt.toLowerCase(),
    ])
      if (near !== jkt)
        expect(() => checkJktBinding({ cnf: { jkt: near } }, jkt)).toThrow(
          expect.objectContaining({ code: 'ERR_DPOP_KEY_MISMATCH' }),
        );
  });
});
