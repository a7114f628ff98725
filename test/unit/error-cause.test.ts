import { describe, expect, it } from 'vitest';
import { causeChain, causeCodeOf, findCause } from '../../src/error-cause.js';

/** The one error-cause walker (AS errors, JWKS errors, the outbound proxy's upstream errors). */

function withCode(message: string, code: unknown, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? {} : { cause }), { code });
}

const refused = withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED');
const fetchFailed = new TypeError('fetch failed', { cause: refused });
const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');

function nested(depth: number): Error {
  let e = new Error('e0');
  for (let i = 1; i < depth; i++) e = new Error(`e${i}`, { cause: e });
  return e;
}

describe('causeChain', () => {
  it.each([
    ['an error without cause', refused, ['connect ECONNREFUSED 127.0.0.1:1']],
    [
      'a wrapper and its cause, outermost first',
      fetchFailed,
      ['fetch failed', 'connect ECONNREFUSED 127.0.0.1:1'],
    ],
    ['a DOMException counts as an error', timeout, ['The operation was aborted due to timeout']],
    [
      'stops at a cause that is not an Error',
      new Error('outer', { cause: { code: 'EFAKE' } }),
      ['outer'],
    ],
    ['stops at a string cause', new Error('outer', { cause: 'ECONNRESET' }), ['outer']],
    ['at most 5 deep', nested(8), ['e7', 'e6', 'e5', 'e4', 'e3']],
    ['nothing for undefined', undefined, []],
    ['nothing for a string', 'boom', []],
    ['nothing for a plain object with a cause', { message: 'x', cause: refused }, []],
  ] as const)('%s', (_name, err, messages) => {
    expect(causeChain(err).map((e) => e.message)).toEqual(messages);
  });

  it('ends on a cyclic chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(causeChain(b).map((e) => e.message)).toEqual(['b', 'a', 'b', 'a', 'b']);
  });
});

describe('causeCodeOf', () => {
  it.each([
    [
      'the innermost string code: the root reason, not the wrapper',
      withCode('outer', 'UND_ERR_SOCKET', refused),
      'ECONNREFUSED',
    ],
    ['through a wrapper without code', fetchFailed, 'ECONNREFUSED'],
    [
      'an outer code when the inner error has none',
      withCode('outer', 'ERR_TLS_CERT_ALTNAME_INVALID', new Error('inner')),
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ],
    ['numeric codes are not reasons', withCode('x', 42), undefined],
    ['nothing for a non-error', 'ECONNREFUSED', undefined],
  ] as const)('%s', (_name, err, code) => {
    expect(causeCodeOf(err)).toBe(code);
  });

  it('reads at most 5 levels', () => {
    let e: Error = withCode('deepest', 'EDEEP');
    for (let i = 0; i < 5; i++) e = new Error(`w${i}`, { cause: e });
    expect(causeCodeOf(e)).toBeUndefined();
  });
});

describe('findCause', () => {
  it('finds the outermost match anywhere in the chain', () => {
    const inner = withCode('inner', 'ERR_UPSTREAM_IDENTITY');
    const outer = new Error('request failed', { cause: new Error('socket', { cause: inner }) });
    expect(
      findCause(outer, (e) => (e as { code?: unknown }).code === 'ERR_UPSTREAM_IDENTITY'),
    ).toBe(inner);
    expect(findCause(new Error('x', { cause: timeout }), (e) => e.name === 'TimeoutError')).toBe(
      timeout,
    );
    expect(findCause(fetchFailed, (e) => e.name === 'TimeoutError')).toBeUndefined();
  });
});
