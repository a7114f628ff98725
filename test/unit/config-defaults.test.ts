import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { FILE_SOURCE_DEFAULTS } from '../../src/identity/file-x509-source.js';
import { SELF_RENEWING_DEFAULTS } from '../../src/identity/self-renewing-x509-source.js';
import type { X509Source } from '../../src/identity/x509-source.js';
import { resolveTokenClientOptions } from '../../src/token/options.js';
import { JWKS_DEFAULTS, resolveVerifierOptions } from '../../src/verify/options.js';

/** A key the config leaves out behaves as the library option left out: one value per default. */
const base = {
  identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
  inbound: { app: { url: 'http://127.0.0.1:8080' } },
  verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks' },
  token: { issuer: 'https://as', clientId: 'orders' },
  outbound: { upstreams: [{ name: 'p', url: 'https://p' }] },
};
const source = { current: () => undefined } as unknown as X509Source;

describe('the sidecar applies the library defaults', () => {
  it('regression: token.timeout (was 10 s vs 5 s) and token.refreshAt (was 0.7 vs 0.8)', () => {
    const config = parseConfig(base, {});
    const library = resolveTokenClientOptions({ source, clientId: 'orders', issuer: 'https://as' });
    expect(config.token?.timeout).toBe(library.timeoutMs);
    expect(config.token?.refreshAt).toBe(library.refreshAtFraction);
    expect(config.token?.authMethod).toBe(library.authMethod);
  });

  it('verify.* as createVerifier and the JWKS key resolver', () => {
    const v = parseConfig(base, {}).verify;
    const library = resolveVerifierOptions({
      issuer: 'https://as',
      audience: 'https://api',
      jwks: { url: 'https://as/jwks' },
    });
    expect(v?.clockTolerance).toBe(library.clockToleranceSec * 1000);
    expect(v?.maxTokenBytes).toBe(library.maxTokenBytes);
    expect(v?.cacheSize).toBe(library.cacheSize);
    expect([v?.jwksCooldown, v?.jwksMaxAge, v?.jwksTimeout]).toEqual([
      JWKS_DEFAULTS.cooldownMs,
      JWKS_DEFAULTS.cacheMaxAgeMs,
      JWKS_DEFAULTS.timeoutMs,
    ]);
    // Left out in the config, so createVerifier's own defaults apply.
    expect(v?.algorithms).toBeUndefined();
    expect(v?.types).toBeUndefined();
  });

  it('regression: identity.pollInterval (was 1 s vs 5 s) and identity.dev.ttl (was 1 h vs 24 h)', () => {
    expect(parseConfig(base, {}).identity.pollInterval).toBe(FILE_SOURCE_DEFAULTS.pollIntervalMs);
    const dev = parseConfig({ ...base, identity: { dev: { caDir: 'certs', name: 'orders' } } }, {});
    expect(dev.identity.dev?.ttl).toBe(SELF_RENEWING_DEFAULTS.ttlMs);
  });
});
