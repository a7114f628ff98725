import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  encode,
  mintForwardedFixtures,
  type ForwardedFixtures,
} from '../support/forwarded-cert.js';
import {
  mtlsAgent,
  send,
  startRecordingApp,
  tempDir,
  type ReadResponse,
  type RecordingApp,
} from '../support/http-fixtures.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki, type TestWorkload } from '../support/pki.js';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';
import { startHaproxy, startNginx, type TlsProxy } from '../support/tls-proxies.js';

// Issue 15: real nginx and real HAProxy terminate the client's mTLS in front of the built
// `certbound run`, each presenting its own client certificate to certbound and forwarding
// the client's in its own format (nginx: $ssl_client_escaped_cert; HAProxy: RFC 9440).
// Both proxies are lax on purpose (they pass certificates they could not verify): certbound
// must re-validate what it is forwarded, not trust the proxy to have checked it.
let pki: TestPki;
let other: TestPki;
let fx: ForwardedFixtures;
let issuer: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
const sidecars: Record<'nginx' | 'haproxy', SidecarProcess> = {} as never;
const proxies: Record<'nginx' | 'haproxy', TlsProxy> = {} as never;
const configOf: Record<string, (verifyExtra: string) => Promise<string>> = {};
let w: Record<string, TestWorkload>;

/** Routes: `/either` takes the forwarded certificate when there is one, `/forwarded-only` requires it. */
const POLICIES = `  policies:
    - { prefix: /forwarded-only, proof: forwarded }
    - { prefix: /, proof: either }`;

async function startSidecar(name: 'nginx' | 'haproxy', format: string): Promise<SidecarProcess> {
  const self = w['payments']!;
  const jwks = await files.write(`${name}-jwks.json`, JSON.stringify(issuer.jwks()));
  configOf[name] = (verifyExtra: string) =>
    files.write(
      `${name}.yaml`,
      `identity: { certPath: ${self.paths.cert}, keyPath: ${self.paths.key}, bundlePath: ${self.paths.ca} }
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${app.url}" }
  forwardedClientCert:
    format: ${format}
    trustedHops: { spiffeIds: ["${w[name]!.spiffeId}"] }
${POLICIES}
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksFile: ${jwks}${verifyExtra} }
admin: { host: 127.0.0.1, port: 0 }
`,
    );
  return startSidecarProcess(await configOf[name](''));
}

beforeAll(async () => {
  [pki, other, issuer, app, files] = await Promise.all([
    createTestPki(['payments', 'orders', 'attacker', 'nginx', 'haproxy']),
    createTestPki(['stranger']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  fx = await mintForwardedFixtures(pki);
  w = { ...pki.workloads, stranger: other.workloads['stranger']! };
  [sidecars.nginx, sidecars.haproxy] = await Promise.all([
    startSidecar('nginx', 'nginx'),
    startSidecar('haproxy', 'rfc9440'),
  ]);
  const bundlePath = w['payments']!.paths.ca;
  [proxies.nginx, proxies.haproxy] = await Promise.all([
    startNginx({
      dir: `${files.dir}/nginx`,
      identity: w['nginx']!,
      bundlePath,
      upstream: sidecars.nginx.addresses.inbound!,
      lax: true,
    }),
    startHaproxy({
      dir: `${files.dir}/haproxy`,
      identity: w['haproxy']!,
      bundlePath,
      upstream: sidecars.haproxy.addresses.inbound!,
      lax: true,
    }),
  ]);
  // A fresh machine installs nginx and haproxy with apt-get first (bounded at 300 s each).
}, 720_000);

afterAll(async () => {
  await Promise.all(Object.values(proxies).map((p) => p?.stop()));
  await Promise.all(Object.values(sidecars).map((s) => s?.stop()));
  await app?.close();
  await Promise.all([pki?.cleanup(), other?.cleanup(), files?.cleanup()]);
});

beforeEach(() => {
  app.seen.length = 0;
});

const tokenFor = (cert: TestWorkload): Promise<string> => issuer.sign(cert.thumbprint);

/** One request to `base` with `client`'s certificate (or none). */
async function call(
  base: string,
  client: TestWorkload | undefined,
  path: string,
  headers: Record<string, string> = {},
): Promise<ReadResponse> {
  const agent = mtlsAgent(client, w['payments']!.bundlePem);
  try {
    return await send(agent, `${base}${path}`, { headers });
  } finally {
    await agent.close();
  }
}

const outcome = (res: ReadResponse): string | number =>
  res.status === 200
    ? 200
    : typeof res.json?.['error'] === 'string'
      ? res.json['error']
      : res.status;

/** Header names the app saw on its last request. */
const seenNames = (): string[] => Object.keys(app.seen.at(-1)?.headers ?? {});

describe.each(['nginx', 'haproxy'] as const)('through real %s', (name) => {
  const via = () => proxies[name].url;

  it("a token bound to the original client's certificate is accepted; the app sees the client, not the proxy", async () => {
    const orders = w['orders']!;
    const res = await call(via(), orders, '/either', {
      authorization: `Bearer ${await tokenFor(orders)}`,
    });
    expect(outcome(res), proxies[name].output()).toBe(200);
    const seen = app.seen.at(-1)!.headers;
    expect(seen['x-certbound-cert-thumbprint']).toBe(orders.thumbprint);
    expect(seen['x-certbound-spiffe-id']).toBe(orders.spiffeId);
    expect(seen['x-certbound-forwarded-by']).toBe(w[name]!.spiffeId);
    // The forwarding headers are stripped before the app.
    expect(seenNames().filter((n) => /client-cert/.test(n))).toEqual([]);
    // /forwarded-only takes it too.
    const only = await call(via(), orders, '/forwarded-only', {
      authorization: `Bearer ${await tokenFor(orders)}`,
    });
    expect(outcome(only)).toBe(200);
  });

  it('the same token from another client is refused (ERR_BINDING_MISMATCH)', async () => {
    const res = await call(via(), w['attacker'], '/either', {
      authorization: `Bearer ${await tokenFor(w['orders']!)}`,
    });
    expect(outcome(res)).toBe('ERR_BINDING_MISMATCH');
    expect(app.seen).toHaveLength(0);
  });

  it("the proxy's own token: accepted from the proxy's certificate where the route takes the connection, refused where it requires a forwarded one", async () => {
    const proxyToken = `Bearer ${await tokenFor(w[name]!)}`;
    // A client without a certificate: the proxy forwards none, the connection is the proxy's.
    expect(outcome(await call(via(), undefined, '/either', { authorization: proxyToken }))).toBe(
      200,
    );
    expect(app.seen.at(-1)!.headers['x-certbound-cert-thumbprint']).toBe(w[name]!.thumbprint);
    expect(
      outcome(await call(via(), undefined, '/forwarded-only', { authorization: proxyToken })),
    ).toBe('ERR_FORWARDED_CERT_MISSING');
    // With a forwarded client, the client's certificate is what the token must match.
    expect(outcome(await call(via(), w['orders'], '/either', { authorization: proxyToken }))).toBe(
      'ERR_BINDING_MISMATCH',
    );
  });

  it('a client without a certificate cannot smuggle a forwarding header through the proxy', async () => {
    const orders = w['orders']!;
    const forged: Record<string, string> =
      name === 'nginx'
        ? { 'ssl-client-cert': encode.escapedPem(orders.certPem) }
        : { 'client-cert': encode.rfc9440(orders.certPem) };
    const res = await call(via(), undefined, '/forwarded-only', {
      ...forged,
      authorization: `Bearer ${await tokenFor(orders)}`,
    });
    expect(outcome(res)).toBe('ERR_FORWARDED_CERT_MISSING');
  });

  const refused: Array<[string, string, string]> = [
    ['from another CA', 'stranger', 'ERR_FORWARDED_CERT_UNTRUSTED'],
    ['CA:TRUE', 'caTrue', 'ERR_FORWARDED_CERT_NOT_LEAF'],
  ];
  // nginx's optional_no_ca still refuses an expired certificate at the handshake.
  if (name === 'haproxy') refused.push(['expired', 'expired', 'ERR_FORWARDED_CERT_EXPIRED']);
  it.each(refused)('a forwarded certificate %s is refused', async (_what, which, code) => {
    const cert = which === 'stranger' ? w['stranger']! : fx[which as keyof ForwardedFixtures];
    const res = await call(via(), cert, '/either', {
      authorization: `Bearer ${await tokenFor(cert)}`,
    });
    expect(outcome(res)).toBe(code);
    expect(app.seen).toHaveLength(0);
  });
});

describe('straight to certbound, not through the hop', () => {
  const direct = () => `https://${sidecars.nginx.addresses.inbound!}`;

  it('a forged ssl-client-cert is not read: a stolen token stays refused, and the app never sees the header', async () => {
    const orders = w['orders']!;
    const attacker = w['attacker']!;
    const forged = { 'ssl-client-cert': encode.escapedPem(orders.certPem) };
    const stolen = await call(direct(), attacker, '/either', {
      ...forged,
      authorization: `Bearer ${await tokenFor(orders)}`,
    });
    expect(outcome(stolen)).toBe('ERR_BINDING_MISMATCH');
    const own = await call(direct(), attacker, '/either', {
      ...forged,
      'client-cert': encode.rfc9440(orders.certPem),
      authorization: `Bearer ${await tokenFor(attacker)}`,
    });
    expect(outcome(own)).toBe(200);
    expect(app.seen.at(-1)!.headers['x-certbound-cert-thumbprint']).toBe(attacker.thumbprint);
    expect(seenNames().filter((n) => /client-cert/.test(n))).toEqual([]);
    expect(
      outcome(
        await call(direct(), attacker, '/forwarded-only', {
          ...forged,
          authorization: `Bearer ${await tokenFor(attacker)}`,
        }),
      ),
    ).toBe('ERR_FORWARDED_CERT_MISSING');
    const metrics = await fetch(`http://${sidecars.nginx.addresses.admin!}/metrics`).then((r) =>
      r.text(),
    );
    const count = /certbound_forwarded_cert_untrusted_total\{header="ssl-client-cert"\} (\d+)/.exec(
      metrics,
    );
    expect(Number(count?.[1])).toBeGreaterThanOrEqual(3);
    const warned = await sidecars.nginx.waitForLine('not a trusted hop');
    expect(warned).not.toContain('BEGIN');
    expect(warned).not.toContain(encode.escapedPem(orders.certPem).slice(0, 40));
  });

  it('a malformed header from the trusted hop (its certificate) is refused with its code', async () => {
    const hop = w['nginx']!;
    const res = await call(direct(), hop, '/either', {
      'ssl-client-cert': '%zz',
      authorization: `Bearer ${await tokenFor(hop)}`,
    });
    expect(res.status).toBe(400);
    expect(outcome(res)).toBe('ERR_FORWARDED_CERT_MALFORMED');
    expect(app.seen).toHaveLength(0);
  });

  it('regression: a SIGHUP reload of verify dropped the forwarded-certificate source', async () => {
    await configOf['nginx']!(', maxTokenBytes: 9000');
    const mark = sidecars.nginx.lines.length;
    sidecars.nginx.child.kill('SIGHUP');
    await sidecars.nginx.waitForLine('"configuration reloaded"', mark);
    const orders = w['orders']!;
    const res = await call(proxies.nginx.url, orders, '/either', {
      authorization: `Bearer ${await tokenFor(orders)}`,
    });
    expect(outcome(res)).toBe(200);
    expect(app.seen.at(-1)!.headers['x-certbound-cert-thumbprint']).toBe(orders.thumbprint);
  });
});
