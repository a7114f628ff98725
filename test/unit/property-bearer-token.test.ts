import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CertboundError, ERROR_CODES } from '../../src/errors.js';
import { tokenInQuery } from '../../src/http/verify-http-request.js';
import { policyPathOf } from '../../src/verify/request-path.js';
import { authorizationValuesOf, bearerTokenOf } from '../../src/verify/bearer-token.js';

// RFC 6750 §2.1 b64token, as bearerTokenOf must return it.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/';

/** Runs `fn`: its value, or the code of the CertboundError it threw (anything else fails). */
function outcome<T>(fn: () => T): { value: T } | { code: string } {
  try {
    return { value: fn() };
  } catch (err) {
    if (!(err instanceof CertboundError))
      throw new Error(`not a CertboundError: ${String(err)}`, { cause: err });
    expect(ERROR_CODES).toContain(err.code);
    return { code: err.code };
  }
}

const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    'Bearer',
    'bearer ',
    'Bearer  ',
    'BEARER x',
    'Bearer a b',
    'Bearer a,b',
    'Bearer =',
    'Bearer a==b',
    ' Bearer\tabc',
  ),
);
const headerValue = fc.oneof(
  anyText,
  anyText.map((t) => `Bearer ${t}`),
  fc
    .tuple(fc.constantFrom('Bearer', 'bearer', 'BeArEr', 'Basic', 'DPoP', ''), anyText)
    .map(([s, t]) => `${s} ${t}`),
);
const b64token = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 200 }),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([body, pad]) => body + '='.repeat(pad));

describe('property: bearerTokenOf (RFC 6750 §2.1 header parsing)', () => {
  it('any list of Authorization values yields a b64token or a CertboundError ERR_TOKEN_MISSING / ERR_INVALID_REQUEST', () => {
    fc.assert(
      fc.property(fc.array(headerValue, { maxLength: 4 }), fc.boolean(), (values, inQuery) => {
        const r = outcome(() => bearerTokenOf(values, inQuery));
        if ('value' in r) {
          expect(inQuery).toBe(false);
          expect(values).toHaveLength(1);
          expect(r.value).toMatch(B64TOKEN);
          expect(values[0]!.trim().toLowerCase().startsWith('bearer ')).toBe(true);
        } else {
          expect(['ERR_TOKEN_MISSING', 'ERR_INVALID_REQUEST']).toContain(r.code);
          if (values.length === 0 && !inQuery) expect(r.code).toBe('ERR_TOKEN_MISSING');
          if (values.length > 1 || inQuery) expect(r.code).toBe('ERR_INVALID_REQUEST');
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('every well-formed b64token round-trips, whatever the scheme case and surrounding spaces', () => {
    fc.assert(
      fc.property(
        b64token,
        fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR'),
        fc.nat(3),
        fc.nat(3),
        (token, scheme, lead, trail) => {
          expect(bearerTokenOf([`${' '.repeat(lead)}${scheme} ${token}${' '.repeat(trail)}`])).toBe(
            token,
          );
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('two values, or a token in the query, are always ERR_INVALID_REQUEST (never the first token)', () => {
    fc.assert(
      fc.property(b64token, b64token, (a, b) => {
        expect(outcome(() => bearerTokenOf([`Bearer ${a}`, `Bearer ${b}`]))).toEqual({
          code: 'ERR_INVALID_REQUEST',
        });
        expect(outcome(() => bearerTokenOf([`Bearer ${a}`], true))).toEqual({
          code: 'ERR_INVALID_REQUEST',
        });
        expect(outcome(() => bearerTokenOf([`Bearer ${a} ${b}`]))).toEqual({
          code: 'ERR_INVALID_REQUEST',
        });
      }),
      { numRuns: 500 },
    );
  });

  it('raw HTTP headers: every Authorization value is collected whatever its case, and URLs never crash the query and path checks', () => {
    const headerName = fc.constantFrom(
      'authorization',
      'Authorization',
      'AUTHORIZATION',
      'x-authorization',
      'authorizatio',
      'host',
      'x-certbound-client-id',
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(headerName, fc.string()), { maxLength: 6 }),
        fc.string({ unit: 'grapheme' }),
        (pairs, url) => {
          const values = authorizationValuesOf(pairs.flat());
          expect(values).toEqual(
            pairs.filter(([n]) => n.toLowerCase() === 'authorization').map(([, v]) => v),
          );
          expect(typeof tokenInQuery(url)).toBe('boolean');
          // A normalised path, or a refusal with a stable code: never a second reading.
          const path = outcome(() => policyPathOf(url));
          if ('value' in path) expect(path.value).toMatch(/^\/(?!\/)/);
          const r = outcome(() => bearerTokenOf(values, tokenInQuery(url)));
          if ('value' in r) expect(r.value).toMatch(B64TOKEN);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('access_token anywhere in the query is detected, however it is encoded around', () => {
    fc.assert(
      fc.property(
        fc.webPath(),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'x_y'), fc.string()), { maxLength: 3 }),
        fc.string(),
        (path, params, token) => {
          const q = new URLSearchParams([...params, ['access_token', token]]).toString();
          expect(tokenInQuery(`${path || '/'}?${q}`)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
