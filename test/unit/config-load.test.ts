import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig, parseConfigText } from '../../src/config/load-config.js';
import { ENV_OVERRIDES } from '../../src/config/env-overrides.js';
import { isCertboundError } from '../../src/errors.js';
import { ROOT } from '../support/cli.js';

const base = {
  identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
  inbound: { app: { url: 'http://127.0.0.1:8080' } },
  verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks' },
};

function errorOf(raw: unknown, env: Record<string, string> = {}): string {
  try {
    parseConfig(raw, env, 'test.yaml');
  } catch (err) {
    if (isCertboundError(err, 'ERR_CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('applies defaults and parses durations', () => {
    const config = parseConfig(base, {});
    expect(config.shutdownGrace).toBe(10_000);
    expect(config.inbound?.port).toBe(15443);
    expect(config.inbound?.identityHeaderPrefix).toBe('x-certbound-');
    expect(config.inbound?.limits.appTimeout).toBe(30_000);
    expect(config.verify?.clockTolerance).toBe(30_000);
  });

  it.each([
    [{ ...base, inbound: { ...base.inbound, limts: {} } }, 'inbound.limts: is not a known key'],
    [
      { ...base, inbound: { ...base.inbound, port: 'x' } },
      'inbound.port: must be a number, not a string (example: 15443)',
    ],
    [{ ...base, shutdownGrace: 'soon' }, 'shutdownGrace: is not a duration (example: 10s)'],
    [{ ...base, logLevel: 'loud' }, 'logLevel: must be one of'],
    [{ ...base, identity: { certPath: 'c' } }, 'identity.keyPath: is required'],
    [
      { ...base, verify: { ...base.verify, jwksFile: 'j' } },
      'verify.jwksUri: exactly one of jwksUri or jwksFile',
    ],
    [{ ...base, outbound: { host: '0.0.0.0' } }, 'outbound.host: is not a loopback address'],
    [
      { ...base, outbound: { host: '127.0.0.1.nip.io' } },
      'outbound.host: is not a loopback address',
    ],
    [
      {
        ...base,
        token: { clientId: 'a', issuer: 'https://as' },
        localApi: { host: '0.0.0.0', port: 1 },
      },
      'localApi.host: is not a loopback address',
    ],
    [
      {
        ...base,
        token: { clientId: 'a', issuer: 'https://as' },
        outbound: { upstreams: [{ name: 'p', url: 'http://p' }] },
      },
      'outbound.upstreams[0].url: is not an https URL (example: https://',
    ],
    [
      { identity: base.identity, inbound: base.inbound },
      'verify: is required when inbound is configured',
    ],
    [{ ...base, outbound: { upstreams: [{ name: 'p', url: 'https://p' }] } }, 'token: is required'],
  ])('names the key, the problem and an example (%#)', (raw, expected) => {
    expect(errorOf(raw)).toContain(expected);
  });

  it('takes per-pod values from CERTBOUND_* variables', () => {
    const config = parseConfig(base, {
      CERTBOUND_INBOUND_PORT: '9443',
      CERTBOUND_APP_URL: 'http://127.0.0.1:9000',
      CERTBOUND_LOG_LEVEL: 'debug',
      CERTBOUND_IDENTITY_CERT_PATH: '/other.pem',
      CERTBOUND_VERIFY_AUDIENCE: 'https://a,https://b',
    });
    expect(config.inbound?.port).toBe(9443);
    expect(config.inbound?.app.url).toBe('http://127.0.0.1:9000');
    expect(config.logLevel).toBe('debug');
    expect(config.identity.certPath).toBe('/other.pem');
    expect(config.verify?.audience).toEqual(['https://a', 'https://b']);
    expect(errorOf(base, { CERTBOUND_INBOUND_PORT: 'abc' })).toContain('inbound.port');
  });

  it('refuses bad YAML and a non-mapping top level', () => {
    expect(() => parseConfigText('a: [1, 2', 'x.yaml')).toThrow(/x.yaml is not valid YAML/);
    expect(errorOf(42)).toContain('top level must be a mapping');
  });

  it('reports a missing file as ERR_CONFIG_NOT_FOUND', async () => {
    await expect(loadConfigFile('/nonexistent/certbound.yaml', {})).rejects.toMatchObject({
      code: 'ERR_CONFIG_NOT_FOUND',
    });
  });

  it('accepts examples/certbound.yaml', async () => {
    const config = await loadConfigFile(join(ROOT, 'examples', 'certbound.yaml'), {});
    expect(config.outbound?.upstreams[0]?.name).toBe('ledger');
  });

  it('documents every environment override in docs/configuration.md', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(join(ROOT, 'docs', 'configuration.md'), 'utf8');
    for (const { env } of ENV_OVERRIDES) expect(doc).toContain(env);
  });
});
