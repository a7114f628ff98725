import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type ServiceError } from '@grpc/grpc-js';
import {
  boundTokenServerInterceptor,
  channelCredentialsFrom,
  errorCodeOfDetails,
  serverCredentialsFrom,
} from '../../src/grpc/index.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createVerifier } from '../../src/verify/create-verifier.js';
import { createDpopVerifier } from '../../src/verify/dpop/dpop-verifier.js';
import { dpopClient, type DpopClient } from '../support/dpop-client.js';
import {
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoClient,
  type EchoServer,
} from '../support/grpc-echo.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki, type TestWorkload } from '../support/pki.js';

const PUBLIC = 'https://payments.bank.test';
const UNARY = `${PUBLIC}/demo.v1.Echo/Unary`;
const sourceOf = (w: TestWorkload) =>
  StaticX509Source.create({ certPem: w.certPem, keyPem: w.keyPem, bundlePem: w.bundlePem });

/** grpc-js interceptor with DPoP: htm POST, htu = public origin + /package.Service/Method. */
describe('gRPC interceptor accepts DPoP-bound tokens (RFC 9449 on gRPC calls)', () => {
  let pki: TestPki;
  let issuer: TestIssuer;
  let server: EchoServer;
  let client: EchoClient;
  let spa: DpopClient;
  let token: string;
  const sources: StaticX509Source[] = [];

  beforeAll(async () => {
    pki = await createTestPki(['orders', 'payments']);
    issuer = await createTestIssuer('k1', 'https://as.test', 'https://payments.test');
    const verifier = createVerifier({
      jwks: { keys: issuer.jwks() },
      issuer: issuer.issuer,
      audience: issuer.audience,
      dpop: createDpopVerifier({ publicOrigin: PUBLIC, nonce: {} }),
    });
    const payments = sourceOf(pki.workloads['payments']!);
    const orders = sourceOf(pki.workloads['orders']!);
    sources.push(payments, orders);
    server = await startEchoServer({
      credentials: serverCredentialsFrom(payments),
      interceptors: [
        boundTokenServerInterceptor(verifier, {
          policies: [{ prefix: '/demo.v1.Echo/', proof: 'dpop' }],
        }),
      ],
    });
    client = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(orders));
    spa = await dpopClient('ES256');
    token = await issuer.sign(undefined, { cnf: { jkt: await spa.handle.calculateThumbprint() } });
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    for (const s of sources) await s.close();
    await pki?.cleanup();
  });

  /** A proof by oauth4webapi for `url` (as a gRPC DPoP client computes htu). */
  const proofFor = async (url: string, who = spa, tok = token) =>
    (await who.request(tok, 'POST', url)).proof;
  const call = (proof: string, tok = token) =>
    unary(client, { message: 'hi' }, metadataOf({ authorization: `DPoP ${tok}`, dpop: proof }));
  const codeOf = (err: ServiceError | undefined) => errorCodeOfDetails(err?.details ?? '');

  it('answers use_dpop_nonce with a dpop-nonce trailer; the retry with it succeeds; the same proof again is a replay', async () => {
    const first = await call(await proofFor(UNARY));
    expect(first.ok).toBe(false);
    const err = (first as { err: ServiceError }).err;
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(codeOf(err)).toBe('ERR_DPOP_NONCE_REQUIRED');
    const nonce = err.metadata.get('dpop-nonce')[0];
    expect(typeof nonce).toBe('string');
    // The client learns the nonce as from a response header.
    await spa.request(
      token,
      'POST',
      UNARY,
      () => new Response(null, { headers: { 'dpop-nonce': nonce as string } }),
    );
    const proof = await proofFor(UNARY);
    const ok = await call(proof);
    expect(ok.ok).toBe(true);
    const jkt = await spa.handle.calculateThumbprint();
    expect(server.seen.at(-1)?.identityMetadata['x-certbound-dpop-jkt']).toBe(jkt);
    expect(server.seen.at(-1)?.principal?.proof).toBe('dpop');
    const replay = await call(proof);
    expect(codeOf((replay as { err: ServiceError }).err)).toBe('ERR_DPOP_REPLAY');
  });

  it('refuses a proof for another gRPC method (htu), a GET proof (htm), a Bearer downgrade and a thief’s key', async () => {
    const other = await call(await proofFor(`${PUBLIC}/demo.v1.Echo/Bidi`));
    expect(codeOf((other as { err: ServiceError }).err)).toBe('ERR_DPOP_HTU');
    const get = await call((await spa.request(token, 'GET', UNARY)).proof);
    expect(codeOf((get as { err: ServiceError }).err)).toBe('ERR_DPOP_HTM');
    const bearer = await unary(
      client,
      { message: 'hi' },
      metadataOf({ authorization: `Bearer ${token}` }),
    );
    expect(codeOf((bearer as { err: ServiceError }).err)).toBe('ERR_DPOP_REQUIRED');
    const thief = await dpopClient('EdDSA');
    const stolen = await call(await proofFor(UNARY, thief));
    expect(codeOf((stolen as { err: ServiceError }).err)).toMatch(
      /ERR_DPOP_(KEY_MISMATCH|NONCE_REQUIRED)/,
    );
  });
});
