import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { isCertboundError } from '../../src/errors.js';

const base = {
  identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
  inbound: { app: { url: 'http://127.0.0.1:8080' } },
  verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks' },
};
const withForwarded = (forwardedClientCert: unknown) => ({
  ...base,
  inbound: { ...base.inbound, forwardedClientCert },
});
const HOP = 'spiffe://demo.local/ns/ingress/sa/nginx';

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw, {}, 'test.yaml');
  } catch (err) {
    if (isCertboundError(err, 'ERR_CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('inbound.forwardedClientCert (issue 15)', () => {
  it('off unless configured; defaults applied when it is', () => {
    expect(parseConfig(base, {}).inbound?.forwardedClientCert).toBeUndefined();
    const config = parseConfig(
      withForwarded({ format: 'nginx', trustedHops: { spiffeIds: [HOP] } }),
      {},
    );
    expect(config.inbound?.forwardedClientCert).toEqual({
      format: 'nginx',
      trustedHops: { spiffeIds: [HOP] },
      cacheSize: 1024,
    });
  });

  it.each([
    [
      'an allow-list without an identity',
      { format: 'nginx', trustedHops: { addresses: ['10.0.0.0/8'] } },
      /inbound\.forwardedClientCert\.trustedHops\.spiffeIds.*spiffeIds or thumbprints is required/s,
    ],
    [
      'a header name with rfc9440',
      { format: 'rfc9440', header: 'x-cert', trustedHops: { spiffeIds: [HOP] } },
      /inbound\.forwardedClientCert\.header.*only for the nginx and haproxy formats/s,
    ],
    [
      'an upper-case header name',
      { format: 'nginx', header: 'SSL-Client-Cert', trustedHops: { spiffeIds: [HOP] } },
      /inbound\.forwardedClientCert\.header/,
    ],
    [
      'a CIDR with a bad prefix',
      { format: 'xfcc', trustedHops: { spiffeIds: [HOP], addresses: ['10.0.0.0/33'] } },
      /inbound\.forwardedClientCert\.trustedHops\.addresses.*IP address or CIDR/s,
    ],
    [
      'a hostname as an address',
      { format: 'xfcc', trustedHops: { spiffeIds: [HOP], addresses: ['ingress.local'] } },
      /IP address or CIDR/,
    ],
    [
      'a hex thumbprint',
      { format: 'haproxy', trustedHops: { thumbprints: ['ab'.repeat(32)] } },
      /thumbprints.*base64url SHA-256/s,
    ],
    [
      'an unknown format',
      { format: 'traefik', trustedHops: { spiffeIds: [HOP] } },
      /inbound\.forwardedClientCert\.format/,
    ],
  ])('refuses %s, naming the key', (_what, value, message) => {
    expect(errorOf(withForwarded(value))).toMatch(message);
  });
});
