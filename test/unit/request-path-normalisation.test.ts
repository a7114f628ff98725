import { describe, expect, it } from 'vitest';
import { CertboundError } from '../../src/errors.js';
import { policyFor } from '../../src/verify/policy.js';
import { normalisePath, requestTargetOf } from '../../src/verify/request-path.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CertboundError) return err.code;
    throw err;
  }
  return 'none';
}

describe('normalisePath (RFC 3986 §6.2.2): one reading for policy, log and app', () => {
  it.each([
    ['/', '/'],
    ['/payments/v1', '/payments/v1'],
    ['/a/', '/a/'],
    ['/a//b', '/a/b'],
    ['//admin', '/admin'],
    ['/a/./b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/../c', '/a/c'],
    ['/../admin', '/admin'],
    ['/public/../admin', '/admin'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E./admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['/%7euser', '/~user'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%20b', '/a%20b'],
    ['/a%25b', '/a%25b'],
    ['/.well-known/jwks', '/.well-known/jwks'],
    ['/a;v=1/b', '/a;v=1/b'],
    ['/a|b{c}', '/a|b{c}'],
  ])('%s → %s', (raw, normal) => {
    expect(normalisePath(raw)).toBe(normal);
    // Idempotent: the normal form is its own normal form.
    expect(normalisePath(normal)).toBe(normal);
  });

  it.each([
    ['/a\\b', 'backslash'],
    ['/admin#x', 'fragment'],
    ['/%zz', 'malformed escape'],
    ['/%4', 'truncated escape'],
    ['/a%2Fb', 'escaped slash'],
    ['/a%2fb', 'escaped slash, lower-case'],
    ['/a%5Cb', 'escaped backslash'],
    ['/a%00b', 'escaped NUL'],
    ['/a%0d%0ab', 'escaped CR LF'],
    ['/a%7Fb', 'escaped DEL'],
    ['/public/..;/admin', 'Tomcat ..; segment'],
    ['/public/.;/admin', 'Tomcat .; segment'],
    ['/public/%2e%2e;x/admin', 'escaped ..; segment'],
    ['/public/..%3B/admin', '..%3B segment'],
    ['/a b', 'raw space'],
    ['/café', 'raw non-ASCII'],
    ['/a\u0001', 'raw control character'],
  ])('%s is refused (%s) with ERR_PATH_UNSAFE', (raw) => {
    expect(codeOf(() => normalisePath(raw))).toBe('ERR_PATH_UNSAFE');
  });
});

describe('requestTargetOf (RFC 9112 §3.2): the forms of a request target', () => {
  it('keeps the query byte for byte and normalises only the path', () => {
    expect(requestTargetOf('/a/../b?x=%2e&y=/../z')).toEqual({
      path: '/b',
      query: '?x=%2e&y=/../z',
      authority: undefined,
      reshaped: true,
    });
    expect(requestTargetOf('/plain?q=1').reshaped).toBe(false);
    // Decoding escapes alone is not a reshape: routers decode them themselves.
    expect(requestTargetOf('/%61dmin').reshaped).toBe(false);
  });

  it.each([
    ['https://host/admin', '/admin', '', 'host'],
    ['HTTP://Host:8080/a//b?q', '/a/b', '?q', 'Host:8080'],
    ['https://host', '/', '', 'host'],
    ['https://host?x=1', '/', '?x=1', 'host'],
    ['https://[::1]:8443/x', '/x', '', '[::1]:8443'],
  ])('absolute-form %s → path %s (HTTP/1.1)', (raw, path, query, authority) => {
    expect(requestTargetOf(raw, { absoluteForm: true })).toEqual({
      path,
      query,
      authority,
      reshaped: true,
    });
  });

  it.each([
    ['*', {}, 'ERR_REQUEST_TARGET_UNSUPPORTED'],
    ['example.com:443', {}, 'ERR_REQUEST_TARGET_UNSUPPORTED'],
    ['ftp://host/admin', { absoluteForm: true }, 'ERR_REQUEST_TARGET_UNSUPPORTED'],
    ['https://host/admin', {}, 'ERR_REQUEST_TARGET_INVALID'],
    ['https://user@host/admin', { absoluteForm: true }, 'ERR_REQUEST_TARGET_INVALID'],
    ['https:///admin', { absoluteForm: true }, 'ERR_REQUEST_TARGET_INVALID'],
    ['admin', {}, 'ERR_REQUEST_TARGET_INVALID'],
    ['', {}, 'ERR_REQUEST_TARGET_INVALID'],
    ['/a?x#frag', {}, 'ERR_PATH_UNSAFE'],
    ['https://host/a%2Fb', { absoluteForm: true }, 'ERR_PATH_UNSAFE'],
  ])('%s (%o) → %s', (raw, options, code) => {
    expect(codeOf(() => requestTargetOf(raw, options))).toBe(code);
  });
});

describe('policyFor: prefixes matched against the normalised path, case-insensitively by default', () => {
  const admin = { prefix: '/admin', scopes: ['admin'] };
  const reports = { prefix: '/Reports', scopes: ['reports'], caseSensitive: true };
  const publicDocs = { prefix: '/ADMIN/docs', scopes: [] };
  const policies = [admin, reports, publicDocs];

  it.each([
    ['/admin', admin],
    ['/ADMIN/users', admin],
    ['/Admin', admin],
    ['/admin/docs/x', publicDocs],
    ['/Reports/q1', reports],
    ['/reports/q1', undefined],
    ['/REPORTS', undefined],
    ['/public', undefined],
  ])('%s → %o', (path, policy) => {
    expect(policyFor(policies, path)).toBe(policy);
  });

  it('normalises the prefixes themselves, and refuses one that cannot be', () => {
    expect(policyFor([{ prefix: '//%61dmin/./', scopes: ['x'] }], '/admin/')?.scopes).toEqual([
      'x',
    ]);
    expect(() => policyFor([{ prefix: '/a%2Fb' }], '/a')).toThrow(TypeError);
    expect(() => policyFor([{ prefix: 'admin' }], '/a')).toThrow(TypeError);
  });
});
