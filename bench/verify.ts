import { X509Certificate } from 'node:crypto';
import { jwtVerify, createLocalJWKSet } from 'jose';
import { createVerifier } from '../src/verify/create-verifier.js';
import { createMultiIssuerVerifier } from '../src/verify/multi-issuer-verifier.js';
import { peerIdentityOf } from '../src/binding/peer-identity.js';
import { authorizeRequest, type InboundRequest } from '../src/verify/authorize-request.js';
import { createForwardedCertificates } from '../src/verify/forwarded/forwarded-certificates.js';
import { encode } from '../test/support/forwarded-cert.js';
import { createTestPki } from '../test/support/pki.js';
import { createTestIssuer, type TestIssuer } from '../test/support/jwt.js';
import { formatTable, runAlternating, type BenchResult } from './harness.js';

/**
 * Verification hot path, one process, one run: jose `jwtVerify` alone vs certbound's
 * verify with a cold cache (signature every call) and a warm cache, and the thumbprint
 * computed per request vs once per connection.
 */
export async function benchVerify(): Promise<{ table: string; results: BenchResult[] }> {
  const pki = await createTestPki(['orders', 'ingress']);
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
  // Issue 15: the whole pipeline on a `proof: either` route, the certificate from this
  // connection vs forwarded by a trusted hop in an RFC 9440 header (parse + chain cached per
  // header value, or not cached at all).
  const ingress = pki.workloads['ingress']!;
  const hop = peerIdentityOf(ingress.certPem);
  const anchors = [new X509Certificate(pki.ca.certPem)];
  const forwardedWith = (cacheSize: number) =>
    createVerifier({
      ...options,
      forwardedCertificates: createForwardedCertificates({
        format: 'rfc9440',
        trustedHops: { spiffeIds: [ingress.spiffeId] },
        trustAnchors: () => anchors,
        cacheSize,
      }),
    });
  const forwardedCached = forwardedWith(1024);
  const forwardedUncached = forwardedWith(0);
  const either = [{ prefix: '/', proof: 'either' as const }];
  const clientCert = encode.rfc9440(orders.certPem);
  const requestOf = (p: typeof peer, forwarded: boolean): InboundRequest => ({
    authorization: [`Bearer ${token}`],
    peer: p,
    method: 'GET',
    path: '/payments',
    header: (name) => (forwarded && name === 'client-cert' ? [clientCert] : []),
    remoteAddress: '127.0.0.1',
  });
  const connectionRequest = requestOf(peer, false);
  const forwardedRequest = requestOf(hop, true);
  await authorizeRequest(connectionRequest, warm.pipeline, either);
  await authorizeRequest(forwardedRequest, forwardedCached.pipeline, either);
  await authorizeRequest(forwardedRequest, forwardedUncached.pipeline, either);
  // Forged tokens (issue 19: the cheapest attack on a verifier is a flood of them): what one
  // refusal costs, by where it is refused. Only a bad signature pays the signature check.
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const wrongIss = await (
    await createTestIssuer('k1', 'https://evil.test')
  ).sign(orders.thumbprint, { exp });
  const unknownKid = await (
    await createTestIssuer('k-unknown', as.issuer)
  ).sign(orders.thumbprint, { exp });
  const sig = token.slice(token.lastIndexOf('.') + 1);
  const badSignature = `${token.slice(0, token.lastIndexOf('.') + 1)}${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
  const refused = (forged: string) => () =>
    cold.verify(forged, { ...peer }).then(
      () => {
        throw new Error('a forged token was accepted');
      },
      () => undefined,
    );
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
    {
      name: 'pipeline, connection certificate (memo)',
      run: () => authorizeRequest(connectionRequest, warm.pipeline, either),
    },
    {
      name: 'pipeline, forwarded certificate (cached)',
      run: () => authorizeRequest(forwardedRequest, forwardedCached.pipeline, either),
    },
    {
      name: 'pipeline, forwarded, no cache (parse + chain)',
      run: () => authorizeRequest(forwardedRequest, forwardedUncached.pipeline, either),
    },
    { name: 'forged: malformed, refused', run: refused('not.a-jwt') },
    { name: 'forged: wrong iss, refused', run: refused(wrongIss) },
    { name: 'forged: unknown kid, refused', run: refused(unknownKid) },
    { name: 'forged: bad signature, refused', run: refused(badSignature) },
  ]);
  await pki.cleanup();
  return {
    table: formatTable('verify hot path', results, 'jose jwtVerify alone (ES256)'),
    results,
  };
}
