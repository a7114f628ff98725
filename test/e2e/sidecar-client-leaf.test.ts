import { connect as tlsConnect } from 'node:tls';
import { credentials as grpcCredentials, ServerCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  echoClient,
  metadataOf,
  startEchoServer,
  unary,
  type EchoServer,
} from '../support/grpc-echo.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { mintWithOpenssl } from '../support/openssl-certs.js';
import { createTestPki, type TestPki, type TestWorkload } from '../support/pki.js';
import {
  mtlsAgent,
  send,
  startRecordingApp,
  tempDir,
  type RecordingApp,
} from '../support/http-fixtures.js';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

// Issue 11 §5: a client certificate that chains to the bundle is still refused when it is
// a CA certificate, has a weak key or an EKU without clientAuth — on every inbound path.
let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let grpcApp: EchoServer;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecar: SidecarProcess;
const clients: Record<string, TestWorkload> = {};

const CLIENT_AUTH = 'extendedKeyUsage=clientAuth';
const P256 = { newkey: 'ec', pkeyopts: ['ec_paramgen_curve:P-256'] };

beforeAll(async () => {
  [pki, issuer, app, files, grpcApp] = await Promise.all([
    createTestPki(['orders', 'payments']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
    startEchoServer({ credentials: ServerCredentials.createInsecure() }),
  ]);
  const minted = await Promise.all([
    mintWithOpenssl(pki, 'ca-true', {
      ...P256,
      extensions: ['basicConstraints=critical,CA:TRUE', CLIENT_AUTH],
    }),
    mintWithOpenssl(pki, 'rsa-1024', { newkey: 'rsa:1024', extensions: [CLIENT_AUTH] }),
    mintWithOpenssl(pki, 'p-224', {
      newkey: 'ec',
      pkeyopts: ['ec_paramgen_curve:secp224r1'],
      extensions: [CLIENT_AUTH],
    }),
    mintWithOpenssl(pki, 'server-only', { ...P256, extensions: ['extendedKeyUsage=serverAuth'] }),
  ]);
  for (const w of [pki.workloads['orders']!, ...minted]) clients[w.name] = w;
  const w = pki.workloads['payments']!;
  const jwks = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const config = await files.write(
    'sidecar.yaml',
    `identity: { certPath: ${w.paths.cert}, keyPath: ${w.paths.key}, bundlePath: ${w.paths.ca} }
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${app.url}", grpcUrl: "http://127.0.0.1:${grpcApp.port}" }
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksFile: ${jwks} }
`,
  );
  sidecar = await startSidecarProcess(config);
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await app?.close();
  await grpcApp?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

/** A token bound to `w`'s own certificate: only the certificate can be the reason to refuse. */
async function tokenOf(w: TestWorkload): Promise<string> {
  return issuer.sign(w.thumbprint, { exp: Math.floor(Date.now() / 1000) + 600 });
}

async function httpAs(name: string) {
  const w = clients[name]!;
  const agent = mtlsAgent(w, w.bundlePem);
  try {
    return await send(agent, `https://${sidecar.addresses.inbound!}/leaf`, {
      headers: { authorization: `Bearer ${await tokenOf(w)}` },
    });
  } finally {
    await agent.close();
  }
}

async function grpcAs(name: string) {
  const w = clients[name]!;
  const client = echoClient(
    sidecar.addresses.inbound!,
    grpcCredentials.createSsl(
      Buffer.from(w.bundlePem),
      Buffer.from(w.keyPem),
      Buffer.from(w.certPem),
    ),
  );
  try {
    return await unary(
      client,
      { message: 'hi' },
      metadataOf({ authorization: `Bearer ${await tokenOf(w)}` }),
    );
  } finally {
    client.close();
  }
}

/** Outcome of a bare TLS handshake with `name`'s certificate: `ok` or the error code. */
function handshakeAs(name: string): Promise<string> {
  const w = clients[name]!;
  const [host, port] = sidecar.addresses.inbound!.split(':') as [string, string];
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port: Number(port),
      servername: 'localhost',
      ca: w.bundlePem,
      cert: w.certPem,
      key: w.keyPem,
      ALPNProtocols: ['http/1.1'],
    });
    // TLS 1.3: the server's verdict on the client certificate arrives after the client's
    // handshake completes, so wait for data or the close.
    socket.once('secureConnect', () => socket.write('GET / HTTP/1.1\r\nhost: localhost\r\n\r\n'));
    socket.once('data', () => {
      socket.destroy();
      resolve('ok');
    });
    socket.once('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
    socket.once('close', () => resolve('closed'));
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

describe('certbound run refuses certificates that may not act as a client leaf', () => {
  it('accepts a normal workload certificate (HTTP and gRPC)', async () => {
    expect((await httpAs('orders')).status).toBe(200);
    const call = await grpcAs('orders');
    expect(call.ok).toBe(true);
  });

  it.each([
    ['ca-true', 'ERR_PEER_CERT_NOT_LEAF'],
    ['rsa-1024', 'ERR_PEER_CERT_WEAK_KEY'],
  ])('HTTP: %s → 401 %s as the first response', async (name, code) => {
    const before = app.seen.length;
    const res = await httpAs(name);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(res.json?.['error']).toBe(code);
    expect(app.seen.length).toBe(before);
  });

  it.each([
    ['ca-true', 'ERR_PEER_CERT_NOT_LEAF'],
    ['rsa-1024', 'ERR_PEER_CERT_WEAK_KEY'],
  ])('gRPC forwarding: %s → UNAUTHENTICATED %s', async (name, code) => {
    const before = grpcApp.seen.length;
    const call = await grpcAs(name);
    expect(call.ok).toBe(false);
    if (call.ok) return;
    expect(call.err.code).toBe(16);
    expect(call.err.details).toMatch(new RegExp(`^${code}: `));
    expect(grpcApp.seen.length).toBe(before);
  });

  it.each(['p-224', 'server-only'])(
    '%s is refused by OpenSSL at the handshake (TLS 1.3 cannot sign with P-224; EKU purpose check)',
    async (name) => {
      expect(await handshakeAs(name)).not.toBe('ok');
      expect((await httpAs(name).catch(() => ({ status: 0 }))).status).toBe(0);
    },
  );

  it('logs each refusal with its code, the subject and a thumbprint prefix, never the certificate', async () => {
    // Log lines are written in batches (every 250 ms): wait for both, bounded.
    const seen = () => sidecar.lines.filter((l) => l.includes('client certificate refused')).length;
    for (let i = 0; i < 100 && seen() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const refused = sidecar.lines
      .filter((l) => l.includes('client certificate refused'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byCode = new Map(refused.map((r) => [r['code'], r]));
    expect(byCode.get('ERR_PEER_CERT_NOT_LEAF')).toMatchObject({
      level: 'warn',
      reason: 'it is a CA certificate (basicConstraints CA:TRUE)',
      subject: 'CN=ca-true, O=certbound',
      thumbprintPrefix: clients['ca-true']!.thumbprint.slice(0, 12),
    });
    expect(byCode.get('ERR_PEER_CERT_WEAK_KEY')).toMatchObject({
      reason: 'its RSA key has 1024 bits, at least 2048 are required',
    });
    for (const line of sidecar.lines)
      expect(line).not.toMatch(/BEGIN CERTIFICATE|MII[A-Za-z0-9+/]{20}/);
  });
});
