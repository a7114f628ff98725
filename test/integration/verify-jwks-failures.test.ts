import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import type { JwksOption } from '../../src/verify/options.js';
import { codeOf } from '../support/codes.js';
import { startJwksServer, type TestJwksServer } from '../support/jwks-server.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';

/** JWKS failures against a real HTTPS JWKS server on 127.0.0.1, switched between answers. */
let pki: TestPki;
let jwks: TestJwksServer;
let k1: TestIssuer;
let unknown: TestIssuer;
let verifier: Verifier | undefined;

beforeAll(async () => {
  pki = await createTestPki(['as', 'orders']);
  [k1, unknown] = await Promise.all([createTestIssuer('k1'), createTestIssuer('k-unknown')]);
  jwks = await startJwksServer(pki.workloads['as']!, [k1.publicJwk]);
});
afterEach(async () => {
  await verifier?.close();
  verifier = undefined;
  jwks.mode = 'ok';
});
afterAll(async () => {
  await jwks?.close();
  await pki?.cleanup();
});

function verifierFor(options: Partial<Extract<JwksOption, { url: unknown }>> = {}): Verifier {
  verifier = createVerifier({
    jwks: { url: jwks.url, ca: pki.ca.certPem, timeoutMs: 2_000, ...options },
    issuer: k1.issuer,
    audience: k1.audience,
    cacheSize: 0,
  });
  return verifier;
}

async function errorOf(p: Promise<unknown>): Promise<CertboundError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CertboundError) return err;
    throw err;
  }
  throw new Error('resolved');
}

/** Polls `verifier.ready()` (each poll may start a refetch) until `ok` is `want`; bounded. */
async function readyUntil(v: Verifier, want: boolean): Promise<ReturnType<Verifier['ready']>> {
  for (let i = 0; i < 400; i++) {
    const status = v.ready();
    if (status.ok === want) return status;
    await new Promise((r) => setTimeout(r, 25));
  }
  return v.ready();
}

describe('a JWKS setting that can never work says what is wrong', () => {
  it.each([
    ['not-found', /answered HTTP 404/, 'status 404'],
    ['not-json', /HTTP 200 with a body \(text\/html\) that is not JSON/, 'not JSON'],
    ['not-jwks', /is not a JWK Set/, 'not a JWK Set'],
  ] as const)(
    'JWKS answering %s → ERR_JWKS_UNAVAILABLE naming the URL and the problem',
    async (mode, text, reason) => {
      jwks.mode = mode;
      const v = verifierFor();
      const err = await errorOf(v.refreshKeys());
      expect(err.code).toBe('ERR_JWKS_UNAVAILABLE');
      expect(err.message).toContain(jwks.url);
      expect(err.message).toMatch(text);
      expect(err.details).toMatchObject({ url: jwks.url, reason, permanent: true });
      // A token verified meanwhile gets the same precise reason.
      const orders = pki.workloads['orders']!;
      const verifyErr = await errorOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem));
      expect(verifyErr.code).toBe('ERR_JWKS_UNAVAILABLE');
      expect(verifyErr.message).toMatch(text);
      expect(v.ready()).toMatchObject({ ok: false });
      expect(v.ready().reason).toMatch(text);
    },
  );

  it('an unreachable JWKS is a transient failure naming the connection error', async () => {
    jwks.mode = 'reset';
    const err = await errorOf(verifierFor().refreshKeys());
    expect(err.message).toContain(`JWKS ${jwks.url} cannot be reached`);
    expect(err.details['permanent']).toBe(false);
  });

  it('the URL in messages has no query string (it may carry a secret)', async () => {
    jwks.mode = 'not-found';
    const err = await errorOf(verifierFor({ url: `${jwks.url}?api_key=s3cr3t` }).refreshKeys());
    expect(err.message).toContain(jwks.url);
    expect(err.message).not.toContain('s3cr3t');
  });
});

describe('JWKS outage', () => {
  it('regression: a token with an unknown kid during an outage gets 503 ERR_JWKS_UNAVAILABLE, not ERR_TOKEN_UNKNOWN_KEY; known kids still verify', async () => {
    const orders = pki.workloads['orders']!;
    const v = verifierFor({ cooldownMs: 0 });
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    jwks.mode = 'not-found';
    const err = await errorOf(v.verify(await unknown.sign(orders.thumbprint), orders.certPem));
    expect(err.code).toBe('ERR_JWKS_UNAVAILABLE');
    expect(err.mapping.http).toBe(503);
    expect(err.message).toContain('HTTP 404');
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    // The endpoint is back: an unknown kid is a bad token again.
    jwks.mode = 'ok';
    expect(await codeOf(v.verify(await unknown.sign(orders.thumbprint), orders.certPem))).toBe(
      'ERR_TOKEN_UNKNOWN_KEY',
    );
  });

  it('regression: while the JWKS fails, requests do not refetch it each (one attempt per cooldown)', async () => {
    const orders = pki.workloads['orders']!;
    // A stale set (max age 1 ms) made every verification refetch a failing endpoint.
    const v = verifierFor({ cacheMaxAgeMs: 1, cooldownMs: 60_000 });
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    jwks.mode = 'not-found';
    const before = jwks.hits;
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      outcomes.push(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem)));
      outcomes.push(await codeOf(v.verify(await unknown.sign(orders.thumbprint), orders.certPem)));
    }
    expect(outcomes).toEqual(Array(10).fill(['ACCEPTED', 'ERR_JWKS_UNAVAILABLE']).flat());
    expect(jwks.hits - before).toBe(1);
  });

  it('regression: ready() turns false when the keys are older than the max age and refetching fails, naming the URL and status; true again once it recovers', async () => {
    const v = verifierFor({ cacheMaxAgeMs: 300, cooldownMs: 50 });
    expect(v.ready().ok).toBe(false); // not fetched yet
    await v.refreshKeys();
    expect(v.ready()).toEqual({ ok: true });
    jwks.mode = 'not-found';
    const down = await readyUntil(v, false);
    expect(down.ok).toBe(false);
    expect(down.reason).toContain(jwks.url);
    expect(down.reason).toContain('HTTP 404');
    expect(down.reason).toMatch(/longer than the max age/);
    jwks.mode = 'ok';
    expect((await readyUntil(v, true)).ok).toBe(true);
  });

  it('a failing refetch inside the max age keeps the verifier ready (the keys are fresh enough)', async () => {
    const orders = pki.workloads['orders']!;
    const v = verifierFor({ cacheMaxAgeMs: 600_000, cooldownMs: 0 });
    await v.refreshKeys();
    jwks.mode = 'not-found';
    // An unknown kid forces a refetch, which fails.
    expect(await codeOf(v.verify(await unknown.sign(orders.thumbprint), orders.certPem))).toBe(
      'ERR_JWKS_UNAVAILABLE',
    );
    expect(v.ready()).toEqual({ ok: true });
  });
});
