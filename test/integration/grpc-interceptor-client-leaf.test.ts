import { X509Certificate } from 'node:crypto';
import { credentials as grpcCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPeerRefusal, type PeerRefusal } from '../../src/binding/peer-refusal-channel.js';
import { boundTokenServerInterceptor, serverCredentialsFrom } from '../../src/grpc/index.js';
import { PeerIdentityCache } from '../../src/grpc/peer-identity-cache.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import {
  AUDIENCE,
  ISSUER,
  createTokenMinter,
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoServer,
  type TokenMinter,
} from '../support/grpc-echo.js';
import { mintWithOpenssl } from '../support/openssl-certs.js';
import { createTestPki, materialOf, type TestPki, type TestWorkload } from '../support/pki.js';

// Issue 11 §5 on the grpc-js path: the interceptor's peer (PeerIdentityCache) applies the
// client-leaf rules too; a CA:TRUE or RSA-1024 client never reaches the handler.
let pki: TestPki;
let minter: TokenMinter;
let verifier: Verifier;
let server: EchoServer;
let source: StaticX509Source;
const refusals: PeerRefusal[] = [];
const unsubscribe = onPeerRefusal((r) => refusals.push(r));
const clients: Record<string, TestWorkload> = {};

beforeAll(async () => {
  pki = await createTestPki(['orders', 'payments']);
  minter = await createTokenMinter();
  verifier = createVerifier({ jwks: { keys: minter.jwks }, issuer: ISSUER, audience: AUDIENCE });
  source = StaticX509Source.create(materialOf(pki.workloads['payments']!));
  server = await startEchoServer({
    credentials: serverCredentialsFrom(source),
    interceptors: [boundTokenServerInterceptor(verifier)],
  });
  const p256 = { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:P-256'] };
  clients['orders'] = pki.workloads['orders']!;
  clients['ca-true'] = await mintWithOpenssl(pki, 'ca-true', {
    ...p256,
    extensions: ['basicConstraints=critical,CA:TRUE', 'extendedKeyUsage=clientAuth'],
  });
  clients['rsa-1024'] = await mintWithOpenssl(pki, 'rsa-1024', {
    newkey: 'rsa:1024',
    extensions: ['extendedKeyUsage=clientAuth'],
  });
});

afterAll(async () => {
  unsubscribe();
  await server?.close();
  await verifier?.close();
  await source?.close();
  await pki?.cleanup();
});

async function callAs(name: string) {
  const w = clients[name]!;
  const client = echoClient(
    `127.0.0.1:${server.port}`,
    grpcCredentials.createSsl(
      Buffer.from(w.bundlePem),
      Buffer.from(w.keyPem),
      Buffer.from(w.certPem),
    ),
  );
  try {
    const token = await minter.mint({ thumbprint: w.thumbprint });
    return await unary(client, { message: 'hi' }, metadataOf({ authorization: `Bearer ${token}` }));
  } finally {
    client.close();
  }
}

describe('boundTokenServerInterceptor and client-leaf rules', () => {
  it('lets a normal workload certificate through', async () => {
    expect((await callAs('orders')).ok).toBe(true);
  });

  it.each([
    ['ca-true', 'ERR_PEER_CERT_NOT_LEAF'],
    ['rsa-1024', 'ERR_PEER_CERT_WEAK_KEY'],
  ])('refuses %s with UNAUTHENTICATED before the handler runs (%s)', async (name, code) => {
    const before = server.seen.length;
    const call = await callAs(name);
    expect(call.ok).toBe(false);
    if (call.ok) return;
    expect(call.err.code).toBe(16);
    // The refusal names its own reason (regression: it was reported as ERR_PEER_CERT_MISSING).
    expect(call.err.details.startsWith(`${code}:`)).toBe(true);
    expect(server.seen.length).toBe(before);
    expect(refusals.map((r) => r.code)).toContain(code);
  });

  it('PeerIdentityCache parses and checks a certificate once, refusal included', () => {
    const cache = new PeerIdentityCache();
    const der = new X509Certificate(clients['ca-true']!.certPem).raw;
    const seen = refusals.length;
    for (let i = 0; i < 3; i++) {
      expect(() => cache.of(der)).toThrow(
        expect.objectContaining({ code: 'ERR_PEER_CERT_NOT_LEAF' }),
      );
    }
    expect(refusals.length - seen).toBe(1);
    expect(cache.of(new X509Certificate(clients['orders']!.certPem).raw).thumbprint).toBe(
      clients['orders']!.thumbprint,
    );
  });
});
