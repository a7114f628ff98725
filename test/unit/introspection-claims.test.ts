import { describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { checkIntrospectedClaims } from '../../src/verify/introspection-claims.js';

const NOW = 1_800_000_000;
const EXPECTED = {
  issuer: 'https://as.example',
  audience: ['https://payments.example'],
  tokenTypes: ['bearer'],
  nowSec: NOW,
  clockToleranceSec: 30,
  maxTokenLifetimeSec: 3600,
};
const GOOD = {
  active: true,
  iss: 'https://as.example',
  aud: 'https://payments.example',
  exp: NOW + 300,
  iat: NOW - 10,
  token_type: 'Bearer',
};

function codeOf(claims: Record<string, unknown>): string | undefined {
  try {
    checkIntrospectedClaims(claims, EXPECTED);
    return undefined;
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
}

describe('checkIntrospectedClaims (RFC 7662 §2.2 response, checked like JWT claims)', () => {
  it.each([
    ['a complete active answer', GOOD, undefined],
    [
      '`audience` instead of `aud`',
      { ...GOOD, aud: undefined, audience: ['x', 'https://payments.example'] },
      undefined,
    ],
    [
      'no iss and no token_type (both optional)',
      { ...GOOD, iss: undefined, token_type: undefined },
      undefined,
    ],
    ['active: false', { active: false }, 'ERR_TOKEN_INACTIVE'],
    [
      'active: "true" (a string is not the boolean)',
      { ...GOOD, active: 'true' },
      'ERR_TOKEN_INACTIVE',
    ],
    ['active missing', { ...GOOD, active: undefined }, 'ERR_TOKEN_INACTIVE'],
    ['no exp', { ...GOOD, exp: undefined }, 'ERR_TOKEN_CLAIMS'],
    ['exp Infinity (1e999)', { ...GOOD, exp: Infinity }, 'ERR_TOKEN_CLAIMS'],
    ['exp a string', { ...GOOD, exp: String(NOW + 300) }, 'ERR_TOKEN_CLAIMS'],
    [
      'expired beyond the tolerance',
      { ...GOOD, exp: NOW - 31, iat: NOW - 100 },
      'ERR_TOKEN_EXPIRED',
    ],
    ['nbf in the future', { ...GOOD, nbf: NOW + 31 }, 'ERR_TOKEN_NOT_YET_VALID'],
    [
      'lifetime above the maximum',
      { ...GOOD, iat: NOW - 3600, exp: NOW + 10 },
      'ERR_TOKEN_LIFETIME',
    ],
    ['another issuer', { ...GOOD, iss: 'https://as.example/' }, 'ERR_TOKEN_ISSUER'],
    ['another audience', { ...GOOD, aud: 'https://payments.example.evil' }, 'ERR_TOKEN_AUDIENCE'],
    ['no audience at all', { ...GOOD, aud: undefined }, 'ERR_TOKEN_AUDIENCE'],
    ['a refresh token type', { ...GOOD, token_type: 'refresh_token' }, 'ERR_TOKEN_TYPE'],
    ['token_type not a string', { ...GOOD, token_type: 1 }, 'ERR_TOKEN_TYPE'],
  ])('%s', (_name, claims, code) => {
    expect(codeOf(claims as Record<string, unknown>)).toBe(code);
  });
});
