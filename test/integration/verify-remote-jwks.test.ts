import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/verify/create-verifier.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { codeOf } from '../support/codes.js';

/** A JWKS served over real HTTPS on 127.0.0.1 by the test itself, counting fetches. */
describe('remote JWKS over HTTPS', () => {
  let pki: TestPki;
  let server: Server;
  let url: string;
  let fetches = 0;
  let keys: TestIssuer[] = [];
  let k1: TestIssuer;
  let k2: TestIssuer;

  beforeAll(async () => {
    pki = await createTestPki(['as', 'orders']);
    k1 = await createTestIssuer('k1');
    k2 = await createTestIssuer('k2');
    keys = [k1];
    const as = pki.workloads['as']!;
    server = createServer({ key: as.keyPem, cert: as.certPem }, (req, res) => {
      fetches++;
      if (req.url !== '/jwks') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await pki.cleanup();
  });

  it('verifies with keys fetched over TLS trusting a custom CA', async () => {
    const v = createVerifier({
      jwks: { url, ca: pki.ca.certPem },
      issuer: k1.issuer,
      audience: k1.audience,
    });
    const orders = pki.workloads['orders']!;
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    await v.close();
  });

  it('does not trust the JWKS server without the CA (TLS verified) → ERR_JWKS_UNAVAILABLE', async () => {
    const v = createVerifier({ jwks: { url }, issuer: k1.issuer, audience: k1.audience });
    const orders = pki.workloads['orders']!;
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ERR_JWKS_UNAVAILABLE',
    );
    await v.close();
  });

  it('unknown kid inside the refetch cooldown → refused without hammering the AS (no refetch)', async () => {
    const v = createVerifier({
      jwks: { url, ca: pki.ca.certPem, cooldownMs: 60_000 },
      issuer: k1.issuer,
      audience: k1.audience,
    });
    const orders = pki.workloads['orders']!;
    const start = fetches;
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    expect(fetches - start).toBe(1);
    // Cooldown starts at the last fetch, so the first unknown kid after it is refused without a refetch…
    const unknown = await createTestIssuer('k-unknown');
    expect(await codeOf(v.verify(await unknown.sign(orders.thumbprint), orders.certPem))).toBe(
      'ERR_TOKEN_UNKNOWN_KEY',
    );
    expect(fetches - start).toBe(1);
    await v.close();
  });

  it('unknown kid → one JWKS refetch then ERR_TOKEN_UNKNOWN_KEY; once the AS publishes it (key rotation) it verifies after one refetch', async () => {
    const v = createVerifier({
      jwks: { url, ca: pki.ca.certPem, cooldownMs: 0 },
      issuer: k1.issuer,
      audience: k1.audience,
    });
    const orders = pki.workloads['orders']!;
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    const start = fetches;
    expect(await codeOf(v.verify(await k2.sign(orders.thumbprint), orders.certPem))).toBe(
      'ERR_TOKEN_UNKNOWN_KEY',
    );
    expect(fetches - start).toBe(1);
    keys = [k1, k2];
    expect(await codeOf(v.verify(await k2.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    expect(fetches - start).toBe(2);
    keys = [k1];
    await v.close();
  });

  it('JWKS endpoint down from the start → ERR_JWKS_UNAVAILABLE', async () => {
    const v = createVerifier({
      jwks: { url: 'https://127.0.0.1:1/jwks', ca: pki.ca.certPem, timeoutMs: 2000 },
      issuer: k1.issuer,
      audience: k1.audience,
    });
    const orders = pki.workloads['orders']!;
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ERR_JWKS_UNAVAILABLE',
    );
    await v.close();
  });

  it('JWKS endpoint down after a first fetch → the cached keys keep verifying', async () => {
    const pki2 = await createTestPki(['as2', 'orders']);
    const as2 = pki2.workloads['as2']!;
    const flaky = createServer({ key: as2.keyPem, cert: as2.certPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(k1.jwks()));
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const flakyUrl = `https://127.0.0.1:${(flaky.address() as AddressInfo).port}/jwks`;
    const v = createVerifier({
      jwks: { url: flakyUrl, ca: pki2.ca.certPem, cacheMaxAgeMs: 0, timeoutMs: 2000 },
      issuer: k1.issuer,
      audience: k1.audience,
      cacheSize: 0,
    });
    const orders = pki2.workloads['orders']!;
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    flaky.closeAllConnections();
    await new Promise((r) => flaky.close(r));
    // cacheMaxAge 0 forces a refetch, which fails: the last keys still verify.
    expect(await codeOf(v.verify(await k1.sign(orders.thumbprint), orders.certPem))).toBe(
      'ACCEPTED',
    );
    await v.close();
    await pki2.cleanup();
  });
});
