import fc from 'fast-check';
import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertboundError, ERROR_CODES } from '../../src/errors.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

let pki: TestPki;
let issuer: TestIssuer;
let verifier: Verifier;
let token: string;

beforeAll(async () => {
  pki = await createTestPki(['orders']);
  issuer = await createTestIssuer();
  verifier = createVerifier({
    jwks: { keys: issuer.jwks() },
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    cacheSize: 0,
  });
  token = await issuer.sign(pki.workloads['orders']!.thumbprint);
});

afterAll(async () => {
  await verifier?.close();
  await pki?.cleanup();
});

/** 'ACCEPTED' or the CertboundError code; any other throw fails the property. */
async function verdict(candidate: string): Promise<string> {
  try {
    await verifier.verify(candidate, pki.workloads['orders']!.certPem);
    return 'ACCEPTED';
  } catch (err) {
    if (!(err instanceof CertboundError))
      throw new Error(`not a CertboundError: ${String(err)}`, { cause: err });
    expect(ERROR_CODES).toContain(err.code);
    return err.code;
  }
}

/**
 * True when `candidate` is the same JWS as `token`: identical signing input and a signature
 * segment that decodes to the same bytes (base64url's unused low bits of the last character
 * can differ, RFC 4648 §3.5).
 */
function sameJws(candidate: string): boolean {
  const [h, p, s] = token.split('.');
  const parts = candidate.split('.');
  if (parts.length !== 3 || parts[0] !== h || parts[1] !== p) return false;
  try {
    return Buffer.from(base64url.decode(parts[2]!)).equals(Buffer.from(base64url.decode(s!)));
  } catch {
    return false;
  }
}

type Mutation =
  | { kind: 'replace'; at: number; char: string }
  | { kind: 'insert'; at: number; char: string }
  | { kind: 'delete'; at: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number };

const char = fc.oneof(
  fc.constantFrom(...B64URL, '.', '=', '+', '/', ' '),
  fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), char }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 6 }),
  }),
);

function apply(t: string, m: Mutation): string {
  const at = m.at % (t.length + 1);
  switch (m.kind) {
    case 'replace':
      return t.slice(0, at) + m.char + t.slice(at + 1);
    case 'insert':
      return t.slice(0, at) + m.char + t.slice(at);
    case 'delete':
      return t.slice(0, at) + t.slice(at + 1);
    case 'truncate':
      return t.slice(0, at);
    case 'flip': {
      const i = Math.min(at, t.length - 1);
      return t.slice(0, i) + String.fromCharCode(t.charCodeAt(i) ^ (1 << m.bit)) + t.slice(i + 1);
    }
  }
}

describe('property: verifier.verify with random and mutated tokens', () => {
  it('the unmutated token is accepted (the property below can fail)', async () => {
    expect(await verdict(token)).toBe('ACCEPTED');
  });

  it('byte-wise mutations of a valid token are refused with a known code unless they decode to the same JWS', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const candidate = mutations.reduce(apply, token);
        fc.pre(candidate !== token);
        const v = await verdict(candidate);
        if (v === 'ACCEPTED') {
          accepted++;
          expect(
            sameJws(candidate),
            `accepted a mutated token (${JSON.stringify(mutations)})`,
          ).toBe(true);
        } else refused++;
      }),
      { numRuns: 1_500 },
    );
    expect(refused).toBeGreaterThan(accepted);
  });

  it('random strings and random JWS-shaped tokens are never accepted, always a known code', async () => {
    const segment = fc.string({ unit: fc.constantFrom(...B64URL), maxLength: 120 });
    const json = fc.jsonValue().map((v) => base64url.encode(JSON.stringify(v)));
    const headerLike = fc
      .record({
        alg: fc.constantFrom('none', 'HS256', 'ES256', 'RS256', 'EdDSA', 'ES384', 'PS256', ''),
        typ: fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt', ''),
        kid: fc.constantFrom('k1', 'k2', ''),
        crit: fc.constantFrom(undefined, ['exp'], ['b64']),
        b64: fc.constantFrom(undefined, false),
      })
      .map((h) => base64url.encode(JSON.stringify(h)));
    const candidate = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.tuple(segment, segment, segment).map((p) => p.join('.')),
      fc.tuple(json, json, segment).map((p) => p.join('.')),
      fc
        .tuple(
          headerLike,
          fc.constant(token.split('.')[1]!),
          fc.oneof(segment, fc.constant(token.split('.')[2]!)),
        )
        .map((p) => p.join('.')),
    );
    await fc.assert(
      fc.asyncProperty(candidate, async (c) => {
        // The generator can rebuild the original header byte for byte: that is the valid token.
        fc.pre(!sameJws(c));
        expect(await verdict(c)).not.toBe('ACCEPTED');
      }),
      { numRuns: 1_500 },
    );
  });
});
