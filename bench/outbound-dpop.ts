import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { customFetch, protectedResourceRequest } from 'oauth4webapi';
import { Pool } from 'undici';
import { StaticX509Source } from '../src/identity/static-x509-source.js';
import { silentLogger } from '../src/observability/logger.js';
import { startOutboundListener } from '../src/sidecar/outbound/outbound-proxy.js';
import type { AccessToken, TokenProvider } from '../src/token/access-token.js';
import { DpopKeys } from '../src/token/dpop-keys.js';
import { createTestPki, materialOf } from '../test/support/pki.js';
import { formatTable, runAlternating, type BenchResult } from './harness.js';

const MTLS = 'outbound mTLS (Bearer, cert-bound)';
const DPOP = 'outbound DPoP (fresh proof per request)';

/**
 * Outbound cost per request, one process, side by side: the app's request through the
 * outbound listener to an HTTPS upstream with a certificate-bound Bearer token, and the
 * same with `proof: dpop` (oauth4webapi signs a new ES256 proof with `ath` per request).
 * Tokens come from a stub provider (a cache hit, as in steady state), the upstream answers
 * 200 at once and asks for no nonce; one keep-alive connection, requests one after another.
 */
export async function benchOutboundDpop(): Promise<{ table: string; results: BenchResult[] }> {
  const pki = await createTestPki(['orders', 'partner']);
  const partner = pki.workloads['partner']!;
  const upstream = createServer(
    { key: partner.keyPem, cert: partner.certPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '2' }).end('ok');
    },
  );
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `https://localhost:${(upstream.address() as AddressInfo).port}`;
  const source = StaticX509Source.create(materialOf(pki.workloads['orders']!));
  const identity = source.current();
  const key = await new DpopKeys({ client_id: 'bench' }).for(identity);
  const token = (dpop: boolean): AccessToken => ({
    accessToken: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl',
    tokenType: dpop ? 'DPoP' : 'Bearer',
    expiresAt: new Date(Date.now() + 3_600_000),
    thumbprint: identity.thumbprint,
    ...(dpop ? { dpop: key } : {}),
  });
  const tokens: TokenProvider = {
    get: (request) => Promise.resolve(token(request.proof === 'dpop')),
  };
  const listener = await startOutboundListener({
    source,
    tokens,
    upstreams: [
      { name: 'mtls', url, spiffeId: partner.spiffeId },
      { name: 'dpop', url, spiffeId: partner.spiffeId, proof: 'dpop' },
    ],
    logger: silentLogger(),
  });
  const app = new Pool(`http://127.0.0.1:${listener.port}`, { connections: 1 });
  const call = async (path: string): Promise<void> => {
    const res = await app.request({ method: 'GET', path });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode}`);
  };
  // The proof alone: what DPoP adds in CPU, without the network.
  const proofOnly = (): Promise<Response> =>
    protectedResourceRequest(
      token(true).accessToken,
      'GET',
      new URL(`${url}/x`),
      new Headers(),
      null,
      {
        DPoP: key.handle,
        [customFetch]: () => Promise.resolve(new Response(null, { status: 200 })),
      },
    );
  await call('/mtls/x');
  await call('/dpop/x');
  const results = await runAlternating([
    { name: MTLS, run: () => call('/mtls/x') },
    { name: DPOP, run: () => call('/dpop/x') },
    { name: 'DPoP proof alone (oauth4webapi, ES256)', run: proofOnly },
  ]);
  await app.close();
  await listener.drain(0);
  await new Promise<void>((resolve) => {
    upstream.close(() => resolve());
    upstream.closeAllConnections();
  });
  await source.close();
  await pki.cleanup();
  return { table: formatTable('outbound path per request', results, MTLS), results };
}

// `node --import tsx bench/outbound-dpop.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { table } = await benchOutboundDpop();
  console.log(table);
}
