import { generateKeyPairSync } from 'node:crypto';
import { ServerCredentials, status } from '@grpc/grpc-js';
import { base64url, exportJWK, importPKCS8, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import {
  boundTokenServerInterceptor,
  channelCredentialsFrom,
  errorCodeOfDetails,
  serverCredentialsFrom,
} from '../../src/grpc/index.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSidecar, type Sidecar } from '../../src/sidecar/start-sidecar.js';
import { createVerifier, type Verifier } from '../../src/verify/create-verifier.js';
import {
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoClient,
  type EchoServer,
} from '../support/grpc-echo.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { curl } from '../support/sidecar-process.js';

let pki: TestPki;
let issuer: TestIssuer;
let rsaKid: string;
let rsaPrivatePem: string;
let verifier: Verifier;
let server: EchoServer;
let client: EchoClient;
let grpcApp: EchoServer;
let httpApp: RecordingApp;
let sidecar: Sidecar;
let files: Awaited<ReturnType<typeof tempDir>>;
const sources: StaticX509Source[] = [];

beforeAll(async () => {
  [pki, issuer, httpApp, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  // The JWKS also publishes an RSA key: algorithm confusion must still be refused.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  rsaKid = 'rsa-1';
  rsaPrivatePem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const rsaJwk: JWK = {
    ...(await exportJWK(rsa.publicKey)),
    kid: rsaKid,
    alg: 'RS256',
    use: 'sig',
  };
  const jwks = { keys: [issuer.publicJwk, rsaJwk] };
  verifier = createVerifier({
    jwks: { keys: jwks },
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    maxTokenBytes: 4096,
  });
  const material = (name: string) => {
    const w = pki.workloads[name]!;
    const s = StaticX509Source.create({
      certPem: w.certPem,
      keyPem: w.keyPem,
      bundlePem: w.bundlePem,
    });
    sources.push(s);
    return s;
  };
  server = await startEchoServer({
    credentials: serverCredentialsFrom(material('payments')),
    interceptors: [boundTokenServerInterceptor(verifier)],
  });
  client = echoClient(`127.0.0.1:${server.port}`, channelCredentialsFrom(material('orders')));

  // The sidecar's inbound gRPC path: mTLS listener → createGrpcForwarder → plain grpc-js app.
  grpcApp = await startEchoServer({ credentials: ServerCredentials.createInsecure() });
  const payments = pki.workloads['payments']!;
  sidecar = await startSidecar(
    parseConfig(
      {
        logLevel: 'silent',
        identity: {
          certPath: payments.paths.cert,
          keyPath: payments.paths.key,
          bundlePath: payments.paths.ca,
        },
        inbound: {
          host: '127.0.0.1',
          port: 0,
          app: { url: httpApp.url, grpcUrl: `http://127.0.0.1:${grpcApp.port}` },
        },
        verify: {
          issuer: issuer.issuer,
          audience: issuer.audience,
          jwksFile: await files.write('jwks.json', JSON.stringify(jwks)),
          algorithms: ['ES256'],
        },
      },
      {},
    ),
    { logger: silentLogger(), processMetrics: false },
  );
});

afterAll(async () => {
  client?.close();
  await server?.close();
  await sidecar?.close();
  await grpcApp?.close();
  await httpApp?.close();
  await verifier?.close();
  for (const s of sources) await s.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

const thumb = (): string => pki.workloads['orders']!.thumbprint;
const now = (): number => Math.floor(Date.now() / 1000);
const claimsOf = (extra: Record<string, unknown> = {}) => ({
  iss: issuer.issuer,
  aud: issuer.audience,
  sub: 'orders',
  client_id: 'orders',
  iat: now(),
  exp: now() + 300,
  cnf: { 'x5t#S256': thumb() },
  ...extra,
});
const unsigned = (header: Record<string, unknown>, payload: Record<string, unknown>): string =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`;

/** Row label (unique, cited by docs/threat-model.md), expected code, token factory. */
const tokenAttacks: Array<[string, string, () => Promise<string>]> = [
  ['gRPC: token bound to no certificate (no cnf)', 'ERR_CNF_MISSING', () => issuer.sign(undefined)],
  ['gRPC: padded thumbprint', 'ERR_BINDING_MISMATCH', () => issuer.sign(`${thumb()}=`)],
  [
    'gRPC: hex thumbprint',
    'ERR_BINDING_MISMATCH',
    () => issuer.sign(Buffer.from(thumb(), 'base64url').toString('hex')),
  ],
  [
    'gRPC: standard-base64 thumbprint',
    'ERR_BINDING_MISMATCH',
    () => issuer.sign(Buffer.from(thumb(), 'base64url').toString('base64')),
  ],
  [
    'gRPC: alg none',
    'ERR_TOKEN_ALG',
    () => Promise.resolve(unsigned({ alg: 'none', typ: 'at+jwt', kid: issuer.kid }, claimsOf())),
  ],
  [
    'gRPC: HS256 signed with the public key',
    'ERR_TOKEN_ALG',
    () =>
      new SignJWT(claimsOf())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: issuer.kid })
        .sign(new TextEncoder().encode(JSON.stringify(issuer.publicJwk))),
  ],
  [
    'gRPC: RS256 token with a published RSA key when only ES256 is allowed',
    'ERR_TOKEN_ALG',
    async () =>
      new SignJWT(claimsOf())
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: rsaKid })
        .sign(await importPKCS8(rsaPrivatePem, 'RS256')),
  ],
  [
    'gRPC: ES256 header naming the RSA key (RS/ES confusion)',
    'ERR_TOKEN_UNKNOWN_KEY',
    async () =>
      new SignJWT(claimsOf())
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: rsaKid })
        .sign(issuer.privateKey),
  ],
  [
    'gRPC: expired token',
    'ERR_TOKEN_EXPIRED',
    () => issuer.sign(thumb(), { iat: now() - 900, exp: now() - 300 }),
  ],
  [
    'gRPC: nbf in the future',
    'ERR_TOKEN_NOT_YET_VALID',
    () => issuer.sign(thumb(), { nbf: now() + 600 }),
  ],
  [
    'gRPC: wrong iss signed by the trusted key',
    'ERR_TOKEN_ISSUER',
    () =>
      new SignJWT(claimsOf({ iss: 'https://evil.test' }))
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: issuer.kid })
        .sign(issuer.privateKey),
  ],
  [
    'gRPC: wrong aud',
    'ERR_TOKEN_AUDIENCE',
    () => issuer.sign(thumb(), { aud: 'https://other.test' }),
  ],
  [
    'gRPC: typ JWT instead of at+jwt',
    'ERR_TOKEN_TYPE',
    () => issuer.sign(thumb(), {}, { typ: 'JWT' }),
  ],
  ['gRPC: unknown kid', 'ERR_TOKEN_UNKNOWN_KEY', () => issuer.sign(thumb(), {}, { kid: 'nobody' })],
  [
    'gRPC: oversized token',
    'ERR_TOKEN_TOO_LARGE',
    () => issuer.sign(thumb(), { pad: 'x'.repeat(5000) }),
  ],
  [
    'gRPC: signature of another token',
    'ERR_TOKEN_SIGNATURE',
    async () => {
      const [h, p] = (await issuer.sign(thumb())).split('.');
      const [, , s] = (await issuer.sign(thumb(), { scope: 'admin' })).split('.');
      return `${h}.${p}.${s}`;
    },
  ],
];

describe('gRPC attack catalogue: boundTokenServerInterceptor over mTLS', () => {
  it('control: the same client with a valid bound token is served', async () => {
    const out = await unary(
      client,
      { message: 'ok' },
      metadataOf({ authorization: `Bearer ${await issuer.sign(thumb())}` }),
    );
    expect(out.ok).toBe(true);
  });

  it.each(tokenAttacks)(
    '%s → UNAUTHENTICATED %s; the handler never runs',
    async (_label, code, make) => {
      const before = server.seen.length;
      const token = await make();
      const out = await unary(
        client,
        { message: 'attack' },
        metadataOf({ authorization: `Bearer ${token}` }),
      );
      expect(out.ok).toBe(false);
      if (out.ok) return;
      expect(out.err.code).toBe(status.UNAUTHENTICATED);
      expect(errorCodeOfDetails(out.err.details)).toBe(code);
      expect(out.err.details).not.toContain(token);
      expect(server.seen.length).toBe(before);
    },
  );

  it('gRPC: a token in another metadata key (access_token) is not accepted → ERR_TOKEN_MISSING', async () => {
    const token = await issuer.sign(thumb());
    const out = await unary(
      client,
      { message: 'x' },
      metadataOf({ access_token: token, 'x-access-token': token }),
    );
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(errorCodeOfDetails(out.err.details)).toBe('ERR_TOKEN_MISSING');
  });
});

describe('gRPC attack catalogue: the sidecar inbound gRPC path (createGrpcForwarder), raw HTTP/2 with curl', () => {
  async function grpcCurl(cert: string | undefined, headers: string[]) {
    const body = await files.write('empty.grpc', '\x00\x00\x00\x00\x00');
    const w = cert === undefined ? undefined : pki.workloads[cert]!;
    return curl([
      '--http2',
      '--cacert',
      pki.workloads['orders']!.paths.ca,
      ...(w !== undefined ? ['--cert', w.paths.cert, '--key', w.paths.key] : []),
      '-H',
      'content-type: application/grpc',
      '-H',
      'te: trailers',
      ...headers.flatMap((h) => ['-H', h]),
      '--data-binary',
      `@${body}`,
      `https://localhost:${sidecar.inbound!.port}/demo.v1.Echo/Unary`,
    ]);
  }

  it('control: one bound token reaches the gRPC app', async () => {
    const before = grpcApp.seen.length;
    const res = await grpcCurl('orders', [`authorization: Bearer ${await issuer.sign(thumb())}`]);
    expect(res.status).toBe(200);
    expect(grpcApp.seen.length).toBe(before + 1);
    expect(grpcApp.seen.at(-1)!.identityMetadata['x-certbound-client-id']).toBe('orders');
  });

  it('gRPC: duplicated authorization headers → grpc-status 16 ERR_INVALID_REQUEST; the app sees nothing', async () => {
    const before = grpcApp.seen.length;
    const token = await issuer.sign(thumb());
    const res = await grpcCurl('orders', [
      `authorization: Bearer ${token}`,
      `authorization: Bearer ${token}`,
    ]);
    expect(res.headers['grpc-status']).toBe(String(status.UNAUTHENTICATED));
    expect(decodeURIComponent(res.headers['grpc-message'] ?? '')).toMatch(/^ERR_INVALID_REQUEST:/);
    expect(grpcApp.seen.length).toBe(before);
  });

  it('gRPC: spoofed x-certbound-* metadata is replaced by the verified identity', async () => {
    const before = grpcApp.seen.length;
    const res = await grpcCurl('orders', [
      `authorization: Bearer ${await issuer.sign(thumb())}`,
      'x-certbound-client-id: admin',
      'x-certbound-spiffe-id: spiffe://demo.local/ns/default/sa/ops',
    ]);
    expect(res.status).toBe(200);
    expect(grpcApp.seen.length).toBe(before + 1);
    expect(grpcApp.seen.at(-1)!.identityMetadata).toMatchObject({
      'x-certbound-client-id': 'orders',
      'x-certbound-spiffe-id': pki.workloads['orders']!.spiffeId,
    });
  });

  it('gRPC: a call without a client certificate never reaches the app', async () => {
    const before = grpcApp.seen.length;
    const res = await grpcCurl(undefined, [`authorization: Bearer ${await issuer.sign(thumb())}`]);
    expect(res.exitCode).not.toBe(0);
    expect(grpcApp.seen.length).toBe(before);
  });
});
