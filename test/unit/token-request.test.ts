import { describe, expect, it } from 'vitest';
import { normalizeTokenRequest } from '../../src/token/token-request-key.js';
import { resolveTokenClientOptions } from '../../src/token/options.js';
import type { X509Source } from '../../src/identity/x509-source.js';

describe('normalizeTokenRequest', () => {
  it.each([
    [{ scope: 'b a' }, { scope: ['a', 'b'] }],
    [{ scope: 'a  b a' }, { scope: ['b', 'a'] }],
    [{ scope: '' }, {}],
    [{ audience: 'x', scope: [] }, { audience: 'x' }],
  ])('%j and %j share a key (RFC 6749 §3.3: order is meaningless)', (a, b) => {
    expect(normalizeTokenRequest(a).key).toBe(normalizeTokenRequest(b).key);
  });

  it.each([
    [{ audience: 'x' }, { resource: 'https://x' }],
    [{ scope: 'a' }, { scope: 'a b' }],
    [{ resource: 'https://x' }, { resource: 'https://x', audience: 'https://x' }],
  ])('%j and %j have different keys', (a, b) => {
    expect(normalizeTokenRequest(a).key).not.toBe(normalizeTokenRequest(b).key);
  });

  it.each([
    [{ resource: 'not a uri' }],
    [{ resource: 'https://x/#frag' }],
    [{ audience: '' }],
    [{ scope: 'a "b"' }],
    [{ scope: ['a\\b'] }],
  ])('rejects %j with a TypeError', (request) => {
    expect(() => normalizeTokenRequest(request)).toThrow(TypeError);
  });

  it('sorts and de-duplicates scopes', () => {
    expect(normalizeTokenRequest({ scope: 'c a b a' }).scopes).toEqual(['a', 'b', 'c']);
  });
});

describe('resolveTokenClientOptions', () => {
  const source = { current: () => undefined } as unknown as X509Source;
  const base = { source, clientId: 'orders', issuer: 'https://as.example' };

  it('applies the documented defaults', () => {
    expect(resolveTokenClientOptions(base)).toMatchObject({
      authMethod: 'tls_client_auth',
      timeoutMs: 5000,
      refreshAtFraction: 0.8,
      allowUnboundTokens: false,
    });
  });

  it.each([
    [{ issuer: undefined }],
    [{ tokenEndpoint: 'https://as.example/token' }],
    [{ issuer: 'http://as.example' }],
    [{ clientId: '' }],
    [{ refreshAtFraction: 1 }],
    [{ timeoutMs: 0 }],
    [{ minBackoffMs: 100, maxBackoffMs: 10 }],
    [{ authMethod: 'client_secret_basic' as never }],
  ])('rejects %j', (override) => {
    expect(() => resolveTokenClientOptions({ ...base, ...override })).toThrow(TypeError);
  });
});
