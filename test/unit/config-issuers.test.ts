import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { isCertboundError } from '../../src/errors.js';

const identity = { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' };
const inbound = { app: { url: 'http://127.0.0.1:8080' } };
const opaque = {
  issuer: 'https://as',
  audience: 'https://api',
  introspection: { clientId: 'payments' },
};
const jwt = { issuer: 'https://b', audience: 'https://api', jwksUri: 'https://b/jwks' };

function errorOf(verify: unknown): string {
  try {
    parseConfig({ identity, inbound, verify }, {}, 'test.yaml');
  } catch (err) {
    if (isCertboundError(err, 'ERR_CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('verify.issuers[]', () => {
  it('parses several issuers with the introspection defaults', () => {
    const config = parseConfig({ identity, inbound, verify: { issuers: [opaque, jwt] } }, {});
    expect(config.verify?.issuers?.[0]?.introspection).toEqual({
      clientId: 'payments',
      timeout: 5_000,
      cacheMaxAge: 60_000,
      inactiveCacheMaxAge: 5_000,
      jwtResponse: false,
    });
    expect(config.verify?.issuers?.[1]?.jwksUri).toBe('https://b/jwks');
  });

  it('keeps the single-issuer keys working unchanged', () => {
    const config = parseConfig({ identity, inbound, verify: jwt }, {});
    expect(config.verify?.issuer).toBe('https://b');
    expect(config.verify?.issuers).toBeUndefined();
  });

  it.each([
    [
      'single-issuer keys beside issuers',
      { issuers: [jwt], issuer: 'https://x' },
      /verify\.issuer.*cannot be combined with issuers/,
    ],
    ['a duplicated issuer', { issuers: [jwt, jwt] }, /verify\.issuers\[1\]\.issuer.*is duplicated/],
    [
      'two introspection issuers',
      { issuers: [opaque, { ...opaque, issuer: 'https://c' }] },
      /verify\.issuers\[1\]\.introspection.*already set on issuers\[0\]/,
    ],
    [
      'signed introspection answers without the keys to verify them',
      { issuers: [{ ...opaque, introspection: { clientId: 'payments', jwtResponse: true } }] },
      /verify\.issuers\[0\]\.introspection\.jwtResponse.*needs this issuer's jwksUri/,
    ],
    [
      'an issuer with neither keys nor introspection',
      { issuers: [{ issuer: 'https://x', audience: 'a' }] },
      /verify\.issuers\[0\]\.jwksUri.*one of jwksUri, jwksFile .* or introspection/,
    ],
    [
      'both secret forms',
      {
        issuers: [
          { ...opaque, introspection: { clientId: 'p', clientSecret: 's', clientSecretFile: 'f' } },
        ],
      },
      /verify\.issuers\[0\]\.introspection\.clientSecret.*cannot be combined/,
    ],
    [
      'a plain-http introspection endpoint',
      { issuers: [{ ...opaque, introspection: { clientId: 'p', endpoint: 'http://as/i' } }] },
      /verify\.issuers\[0\]\.introspection\.endpoint.*https/,
    ],
    [
      'no issuer at all',
      { audience: 'a', jwksUri: 'https://a/jwks' },
      /verify\.issuer.*is required \(or list the trusted issuers under verify\.issuers\)/,
    ],
  ])('refuses %s, naming the key', (_name, verify, message) => {
    expect(errorOf(verify)).toMatch(message);
  });
});
