import { describe, expect, it } from 'vitest';
import { jwsClaimsOf, jwsHeaderOf } from '../../src/verify/compact-jws.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const jws = (header: unknown, payload: unknown): string => `${b64(header)}.${b64(payload)}.c2ln`;

describe('compact JWS decoding (RFC 7515 §7.1)', () => {
  it('decodes the header and the claims of a compact JWS', () => {
    const token = jws({ alg: 'ES256', typ: 'at+jwt' }, { iss: 'https://as', n: 1 });
    expect(jwsHeaderOf(token)).toEqual({ alg: 'ES256', typ: 'at+jwt' });
    expect(jwsClaimsOf(token)).toEqual({ iss: 'https://as', n: 1 });
  });

  it.each([
    ['two parts', `${b64({ alg: 'ES256' })}.${b64({})}`],
    ['five parts (a JWE)', `${b64({ alg: 'ES256' })}.${b64({})}.b.c.d`],
    ['one part', b64({ alg: 'ES256' })],
  ])('refuses %s', (_name, token) => {
    expect(() => jwsHeaderOf(token)).toThrow(TypeError);
    expect(() => jwsClaimsOf(token)).toThrow(TypeError);
  });

  it.each([
    ['a character outside base64url', (p: string) => `${p}+`],
    ['padding', (p: string) => `${p}=`],
    ['nothing', () => ''],
  ])('refuses a part holding %s: the part decoded is checked', (_name, spoil) => {
    const header = b64({ alg: 'ES256' });
    const payload = b64({ iss: 'x' });
    expect(() => jwsHeaderOf(`${spoil(header)}.${payload}.sig`)).toThrow(TypeError);
    expect(jwsClaimsOf(`${spoil(header)}.${payload}.sig`)).toEqual({ iss: 'x' });
    expect(() => jwsClaimsOf(`${header}.${spoil(payload)}.sig`)).toThrow(TypeError);
    expect(jwsHeaderOf(`${header}.${spoil(payload)}.sig`)).toEqual({ alg: 'ES256' });
  });

  it.each([
    ['an array', [1]],
    ['null', null],
    ['a string', 'x'],
    ['a number', 1],
  ])('refuses a part that is %s, not a JSON object', (_name, value) => {
    expect(() => jwsHeaderOf(jws(value, {}))).toThrow(TypeError);
    expect(() => jwsClaimsOf(jws({ alg: 'ES256' }, value))).toThrow(TypeError);
  });

  it('refuses a part that is not JSON at all', () => {
    const token = `${Buffer.from('{not json').toString('base64url')}.${b64({})}.sig`;
    expect(() => jwsHeaderOf(token)).toThrow(SyntaxError);
  });
});
