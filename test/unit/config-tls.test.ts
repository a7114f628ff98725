import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { isCertboundError } from '../../src/errors.js';

const base = {
  identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
  inbound: { app: { url: 'http://127.0.0.1:8080' } },
  verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks' },
};
const withTls = (tls: unknown) => ({ ...base, inbound: { ...base.inbound, tls } });

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw, {}, 'test.yaml');
  } catch (err) {
    if (isCertboundError(err, 'ERR_CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('inbound.tls and verify.maxTokenLifetime (issue 11 §4, §5)', () => {
  it('defaults: TLS 1.2 minimum, node-shaped settings with no override; 24 h lifetime', () => {
    const config = parseConfig(base, {});
    expect(config.inbound?.tls).toEqual({ minVersion: 'TLSv1.2' });
    expect(config.verify?.maxTokenLifetime).toBe(86_400_000);
  });

  it.each([
    [{ minVersion: 'TLSv1.3' }, { minVersion: 'TLSv1.3' }],
    [
      { ciphers: ['ecdhe-ecdsa-aes128-gcm-sha256', 'ECDHE-ECDSA-CHACHA20-POLY1305'] },
      {
        minVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305',
      },
    ],
    [
      { ciphers: 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384' },
      { minVersion: 'TLSv1.2', ciphers: 'TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384' },
    ],
    [
      { minVersion: 'TLSv1.3', ciphers: ['TLS_AES_256_GCM_SHA384'] },
      { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' },
    ],
    [{ ecdhCurves: ['X25519', 'P-256'] }, { minVersion: 'TLSv1.2', ecdhCurve: 'X25519:P-256' }],
    [
      { ecdhCurves: 'X25519:prime256v1' },
      { minVersion: 'TLSv1.2', ecdhCurve: 'X25519:prime256v1' },
    ],
  ])('accepts inbound.tls %j', (tls, expected) => {
    expect(parseConfig(withTls(tls), {}).inbound?.tls).toEqual(expected);
  });

  it.each([
    [{ minVersion: 'TLSv1.1' }, 'inbound.tls.minVersion: must be one of "TLSv1.2", "TLSv1.3"'],
    [{ minVersion: 'TLSv1' }, 'inbound.tls.minVersion: must be one of'],
    [{ ciphers: ['HIGH', '!aNULL'] }, 'inbound.tls.ciphers: HIGH is not a cipher suite'],
    [{ ciphers: 'DEFAULT' }, 'inbound.tls.ciphers: DEFAULT is not a cipher suite'],
    [{ ciphers: ['NULL-SHA256'] }, 'inbound.tls.ciphers: NULL-SHA256 is not a cipher suite'],
    [{ ciphers: ['DES-CBC3-SHA'] }, 'inbound.tls.ciphers: DES-CBC3-SHA is not a cipher suite'],
    [{ ciphers: ['PSK-AES128-GCM-SHA256'] }, 'PSK-AES128-GCM-SHA256 is refused'],
    [{ ciphers: ['SRP-AES-128-CBC-SHA'] }, 'SRP-AES-128-CBC-SHA is refused'],
    [
      { ciphers: ['TLS_AES_128_CCM_8_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'] },
      'CCM_8_SHA256 is refused',
    ],
    [
      { ciphers: ['TLS_AES_128_GCM_SHA256'] },
      'inbound.tls.ciphers: names no TLS 1.2 suite while minVersion is TLSv1.2',
    ],
    [{ ciphers: [] }, 'inbound.tls.ciphers: must hold at least 1 item(s)'],
    [{ ecdhCurves: ['P-192x'] }, 'inbound.tls.ecdhCurves: P-192x is not an ECDHE group'],
    [{ ecdhCurves: ['auto'] }, 'inbound.tls.ecdhCurves: auto is the default'],
  ])('refuses inbound.tls %j, naming the key and an example', (tls, message) => {
    const error = errorOf(withTls(tls));
    expect(error).toContain(message);
    expect(error).toMatch(/\(example: /);
  });

  it.each([
    ['0s', 'verify.maxTokenLifetime: must be at least 1s (example: 24h)'],
    ['forever', 'verify.maxTokenLifetime: is not a duration (example: 24h)'],
  ])('refuses verify.maxTokenLifetime %s', (value, message) => {
    expect(errorOf({ ...base, verify: { ...base.verify, maxTokenLifetime: value } })).toContain(
      message,
    );
  });

  it('verify.maxTokenLifetime takes a duration', () => {
    const config = parseConfig({ ...base, verify: { ...base.verify, maxTokenLifetime: '1h' } }, {});
    expect(config.verify?.maxTokenLifetime).toBe(3_600_000);
  });
});
