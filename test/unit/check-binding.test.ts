import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkBinding } from '../../src/binding/check-binding.js';
import { constantTimeEqual } from '../../src/binding/constant-time-equal.js';
import { CertboundError } from '../../src/errors.js';

const digest = createHash('sha256').update('a certificate').digest();
const right = digest.toString('base64url');
const other = createHash('sha256').update('another certificate').digest().toString('base64url');

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof CertboundError ? err.code : `not a CertboundError: ${String(err)}`;
  }
}

describe('checkBinding (RFC 8705 §3.1)', () => {
  it('accepts the exact base64url thumbprint', () => {
    expect(codeOf(() => checkBinding({ cnf: { 'x5t#S256': right } }, right))).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no cnf', { sub: 'x' }, 'ERR_CNF_MISSING'],
    ['cnf null', { cnf: null }, 'ERR_CNF_MISSING'],
    ['cnf a string', { cnf: right }, 'ERR_CNF_MISSING'],
    ['cnf an array', { cnf: [right] }, 'ERR_CNF_MISSING'],
    ['cnf without x5t#S256', { cnf: { jkt: right } }, 'ERR_CNF_THUMBPRINT_MISSING'],
    ['x5t#S256 a number', { cnf: { 'x5t#S256': 12 } }, 'ERR_CNF_THUMBPRINT_MISSING'],
    ['x5t#S256 empty', { cnf: { 'x5t#S256': '' } }, 'ERR_CNF_THUMBPRINT_MISSING'],
    ['bound to another certificate', { cnf: { 'x5t#S256': other } }, 'ERR_BINDING_MISMATCH'],
    [
      'padded base64url of the right digest',
      { cnf: { 'x5t#S256': `${right}=` } },
      'ERR_BINDING_MISMATCH',
    ],
    [
      'hex of the right digest',
      { cnf: { 'x5t#S256': digest.toString('hex') } },
      'ERR_BINDING_MISMATCH',
    ],
    [
      'standard base64 of the right digest',
      { cnf: { 'x5t#S256': digest.toString('base64') } },
      'ERR_BINDING_MISMATCH',
    ],
    ['SHA-1 style x5t member instead', { cnf: { x5t: right } }, 'ERR_CNF_THUMBPRINT_MISSING'],
    ['different case', { cnf: { 'x5t#S256': right.toUpperCase() } }, 'ERR_BINDING_MISMATCH'],
    ['right value with whitespace', { cnf: { 'x5t#S256': ` ${right}` } }, 'ERR_BINDING_MISMATCH'],
  ])('%s → %s', (_name, claims, code) => {
    expect(codeOf(() => checkBinding(claims, right))).toBe(code);
  });

  it('standard base64 differs from base64url for this digest (the test above is meaningful)', () => {
    expect(digest.toString('base64')).not.toBe(right);
  });

  it('rejects a thumbprint argument that is not a SHA-256 base64url digest', () => {
    expect(() => checkBinding({ cnf: { 'x5t#S256': 'abc' } }, 'abc')).toThrow(TypeError);
  });
});

describe('constantTimeEqual', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', '', true],
    ['é', 'e', false],
  ])('%s vs %s → %s', (a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
  });
});
