import { X509Certificate } from 'node:crypto';
import { jwtVerify, createLocalJWKSet } from 'jose';
import { createVerifier } from '../src/verify/create-verifier.js';
import { createMultiIssuerVerifier } from '../src/verify/multi-issuer-verifier.js';
import { peerIdentityOf } from '../src/binding/peer-identity.js';
import { createTestPki } from '../test/support/pki.js';
import { createTestIssuer, type TestIssuer } from '../test/support/jwt.js';
import { formatTable, runAlternating, type BenchResult } from './harness.js';

/**
 * Verification hot path, one process, one run: jose `jwtVerify` alone vs certbound's
 * verify with a cold cache (signature every call) and a warm cache, and the thumbprint
 * computed per request vs once per connection.
 */
export async function benchVerify(): Promise<{ table: string; results: BenchResult[] }> {
  const pki = await createTestPki(['orders']);
  const as = await createTestIssuer();
  const orders = pki.workloads['orders']!;
  const token = await as.sign(orders.thumbprint, { exp: Math.floor(Date.now() / 1000) + 3600 });
  const der = new X509Certificate(orders.certPem).raw;
  const peer = peerIdentityOf(der);
  const jwks = createLocalJWKSet(as.jwks());
  const options = { jwks: { keys: as.jwks() }, issuer: as.issuer, audience: as.audience };
  const cold = createVerifier({ ...options, cacheSize: 0 });
  const warm = createVerifier(options);
  await warm.verify(token, peer);
  // Several issuers: the token's issuer is one of 1 or 20 (a Map lookup by iss).
  const others = await Promise.all(
    Array.from({ length: 19 }, (_, i) => createTestIssuer(`k${i}`, `https://as${i}.test`)),
  );
  const issuerOf = (i: TestIssuer) => ({
    issuer: i.issuer,
    audience: i.audience,
    jwks: { keys: i.jwks() },
  });
  const multi1 = createMultiIssuerVerifier({ issuers: [issuerOf(as)] });
  const multi20 = createMultiIssuerVerifier({
    issuers: [...others.map((o) => issuerOf(o)), issuerOf(as)],
  });
  await multi1.verify(token, peer);
  await multi20.verify(token, peer);
  // Introspection: the cache-hit path (the AS is a stub answering active once).
  const opaqueToken = 'b'.repeat(43);
  const introspected = createMultiIssuerVerifier({
    issuers: [
      {
        issuer: as.issuer,
        audience: as.audience,
        introspection: {
          endpoint: 'https://127.0.0.1/introspect',
          clientId: 'rs',
          fetch: () =>
            Promise.resolve(
              new Response(
                JSON.stringify({
                  active: true,
                  iss: as.issuer,
                  aud: as.audience,
                  exp: Math.floor(Date.now() / 1000) + 3600,
                  cnf: { 'x5t#S256': orders.thumbprint },
                }),
                { headers: { 'content-type': 'application/json' } },
              ),
            ),
        },
      },
    ],
  });
  await introspected.verify(opaqueToken, peer);
  const results = await runAlternating([
    {
      name: 'jose jwtVerify alone (ES256)',
      run: () => jwtVerify(token, jwks, { issuer: as.issuer, audience: as.audience }),
    },
    { name: 'certbound verify, cold cache', run: () => cold.verify(token, peer) },
    // A new connection per call: the token is found in the LRU of verified tokens.
    { name: 'certbound verify, warm cache (LRU hit)', run: () => warm.verify(token, { ...peer }) },
    // Keep-alive: the same connection re-sends the token (per-connection memo).
    { name: 'warm cache, same connection (memo)', run: () => warm.verify(token, peer) },
    { name: 'warm cache, thumbprint per request (DER)', run: () => warm.verify(token, der) },
    { name: '1 issuer (multi-issuer), LRU hit', run: () => multi1.verify(token, { ...peer }) },
    { name: '20 issuers, LRU hit', run: () => multi20.verify(token, { ...peer }) },
    {
      name: 'introspection, cache hit',
      run: () => introspected.verify(opaqueToken, { ...peer }),
    },
  ]);
  await pki.cleanup();
  return {
    table: formatTable('verify hot path', results, 'jose jwtVerify alone (ES256)'),
    results,
  };
}
