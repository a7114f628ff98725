import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBinding } from '../../src/binding/check-binding.js';
import { constantTimeEqual } from '../../src/binding/constant-time-equal.js';
import { thumbprintOf, type CertificateInput } from '../../src/binding/thumbprint.js';
import { CertboundError } from '../../src/errors.js';

const BINDING_CODES = ['ERR_CNF_MISSING', 'ERR_CNF_THUMBPRINT_MISSING', 'ERR_BINDING_MISMATCH'];
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

const digest = fc
  .uint8Array({ minLength: 1, maxLength: 64 })
  .map((b) => createHash('sha256').update(b).digest());
const thumbprint = digest.map((d) => d.toString('base64url'));

/** What checkBinding did: 'accepted', a binding code, or 'TypeError'. Anything else fails. */
function bindingOutcome(claims: Record<string, unknown>, tp: string): string {
  try {
    checkBinding(claims, tp);
    return 'accepted';
  } catch (err) {
    if (err instanceof CertboundError) {
      expect(BINDING_CODES).toContain(err.code);
      return err.code;
    }
    if (err instanceof TypeError) return 'TypeError';
    throw err;
  }
}

/** Encodings of the right digest that RFC 8705 §3.1 does not accept (only unpadded base64url). */
function lookalikes(d: Buffer): string[] {
  const url = d.toString('base64url');
  return [
    `${url}=`,
    d.toString('base64'),
    d.toString('hex'),
    d.toString('hex').toUpperCase(),
    ` ${url}`,
    `${url} `,
    url.toUpperCase(),
    url.toLowerCase(),
    url.slice(0, 42),
    `${url}A`,
  ].filter((s) => s !== url);
}

describe('property: checkBinding / constantTimeEqual (RFC 8705 §3.1)', () => {
  it('random claims: accepted only when cnf["x5t#S256"] is exactly the thumbprint; otherwise a binding code', () => {
    const cnfValue = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(
        fc.constantFrom('x5t#S256', 'x5t', 'jkt', 'X5T#S256', 'x5t#s256'),
        fc.jsonValue(),
      ),
      fc.record({ 'x5t#S256': fc.oneof(fc.string(), thumbprint, fc.jsonValue()) }),
    );
    fc.assert(
      fc.property(
        thumbprint,
        fc.option(cnfValue, { nil: undefined }),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (tp, cnf, rest) => {
          const claims: Record<string, unknown> = { ...rest };
          if (cnf === undefined) delete claims['cnf'];
          else claims['cnf'] = cnf;
          const result = bindingOutcome(claims, tp);
          const bound =
            typeof claims['cnf'] === 'object' && claims['cnf'] !== null
              ? (claims['cnf'] as Record<string, unknown>)['x5t#S256']
              : undefined;
          expect(result === 'accepted').toBe(!Array.isArray(claims['cnf']) && bound === tp);
          expect(result).not.toBe('TypeError');
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('the right digest in any other encoding (padded, standard base64, hex, case, spaces, truncated) is a mismatch', () => {
    fc.assert(
      fc.property(digest, (d) => {
        const right = d.toString('base64url');
        for (const wrong of lookalikes(d)) {
          expect(bindingOutcome({ cnf: { 'x5t#S256': wrong } }, right)).toBe(
            'ERR_BINDING_MISMATCH',
          );
        }
        expect(bindingOutcome({ cnf: { 'x5t#S256': right } }, right)).toBe('accepted');
      }),
      { numRuns: 500 },
    );
  });

  it('a thumbprint argument that is not a 43-char base64url digest is a TypeError, never a pass', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' })), (tp) => {
        fc.pre(!THUMBPRINT.test(tp));
        expect(bindingOutcome({ cnf: { 'x5t#S256': tp } }, tp)).toBe('TypeError');
      }),
      { numRuns: 1_000 },
    );
  });

  it('constantTimeEqual is string equality for any input (unicode included)', () => {
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'binary' }),
      thumbprint,
    );
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(constantTimeEqual(a, b)).toBe(a === b);
        expect(constantTimeEqual(a, a)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('property: thumbprintOf inputs', () => {
  it('any value yields a 43-char base64url digest or a TypeError, nothing else', () => {
    const pemish = fc
      .string({
        unit: fc.constantFrom(
          ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n',
        ),
      })
      .map((body) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`);
    const input = fc.oneof(
      fc.anything(),
      fc.string(),
      pemish,
      fc.uint8Array({ maxLength: 512 }),
      fc.record({ raw: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.anything()) }),
    );
    fc.assert(
      fc.property(input, (value) => {
        let result: string | undefined;
        try {
          result = thumbprintOf(value as CertificateInput);
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
          return;
        }
        expect(result).toMatch(THUMBPRINT);
      }),
      { numRuns: 2_000 },
    );
  });

  it('DER bytes, and the same bytes as PEM, give the same thumbprint', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (der) => {
        const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----`;
        const expected = createHash('sha256').update(der).digest('base64url');
        expect(thumbprintOf(der)).toBe(expected);
        expect(thumbprintOf(pem)).toBe(expected);
        expect(thumbprintOf({ raw: Buffer.from(der) } as unknown as CertificateInput)).toBe(
          expected,
        );
      }),
      { numRuns: 500 },
    );
  });
});
