import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/http-fixtures.js';
import { startJwksServer, type TestJwksServer } from '../support/jwks-server.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';

// Issue 18: `certbound verify` explains offline, check by check, why the sidecar would accept
// or refuse a token presented with a certificate — the real pipeline's checks and verdict.

let pki: TestPki;
let issuer: TestIssuer;
let impostor: TestIssuer;
let jwks: TestJwksServer;
let files: Awaited<ReturnType<typeof tempDir>>;
let config: string;
let offlineConfig: string;
let jwksFile: string;

beforeAll(async () => {
  [pki, issuer, files] = await Promise.all([
    createTestPki(['payments', 'orders', 'attacker']),
    createTestIssuer(),
    tempDir(),
  ]);
  // Same kid and issuer, another key: a forged signature.
  impostor = await createTestIssuer(issuer.kid, issuer.issuer, issuer.audience);
  const p = pki.workloads['payments']!;
  jwks = await startJwksServer(p, issuer.jwks().keys);
  jwksFile = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const body = (verify: string): string =>
    `identity: { certPath: ${p.paths.cert}, keyPath: ${p.paths.key}, bundlePath: ${p.paths.ca} }
inbound:
  port: 0
  app: { url: "http://127.0.0.1:8080" }
  policies: [{ prefix: /admin, clientIds: [ops] }]
verify: ${verify}
`;
  config = await files.write(
    'online.yaml',
    body(
      `{ issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksUri: "${jwks.url}", jwksCaFile: ${p.paths.ca} }`,
    ),
  );
  offlineConfig = await files.write(
    'offline.yaml',
    body(
      `{ issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksUri: "https://127.0.0.1:1/jwks" }`,
    ),
  );
});
afterAll(async () => {
  await jwks?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

const ordersCert = (): string => pki.workloads['orders']!.paths.cert;

async function verifyOffline(token: string, extra: string[] = []) {
  const r = await runCli(
    [
      'verify',
      '--config',
      offlineConfig,
      '--jwks',
      jwksFile,
      '--cert',
      ordersCert(),
      '--token',
      '-',
      ...extra,
    ],
    { input: token },
  );
  // The token and its signature never appear in the output.
  expect(r.stdout + r.stderr).not.toContain(token);
  expect(r.stdout + r.stderr).not.toContain(token.split('.')[2]);
  return r;
}

describe('certbound verify', () => {
  it('accepts a good token, listing every check in order, and exits 0 (keys fetched from jwksUri)', async () => {
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint);
    const tokenFile = await files.write('token.txt', `${token}\n`);
    const r = await runCli([
      'verify',
      '--config',
      config,
      '--cert',
      ordersCert(),
      '--token-file',
      tokenFile,
      '--path',
      '/orders/1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const checks = r.stdout
      .split('\n')
      .filter((l) => /^[✓✗–] /.test(l))
      .map((l) => l.slice(2).split(/\s+/)[0]);
    expect(checks).toEqual([
      'client',
      'decode',
      'alg/typ',
      'time',
      'signature',
      'iss',
      'aud',
      'exp/nbf/iat',
      'binding',
      'policy',
    ]);
    expect(r.stdout).not.toContain('✗');
    expect(r.stdout).toContain('accepted: client orders');
    expect(r.stdout).not.toContain(token);
    expect(jwks.hits).toBeGreaterThan(0);
  });

  it('reads the token from stdin with --token - and verifies offline with --jwks', async () => {
    const r = await verifyOffline(await issuer.sign(pki.workloads['orders']!.thumbprint));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('accepted');
  });

  const now = (): number => Math.floor(Date.now() / 1000);
  it.each<[string, () => Promise<string>, string, string, string[]?]>([
    ['not a JWT', () => Promise.resolve('not-a-token'), 'decode', 'ERR_TOKEN_MALFORMED'],
    [
      'typ JWT instead of at+jwt',
      () => issuer.sign(pki.workloads['orders']!.thumbprint, {}, { typ: 'JWT' }),
      'alg/typ',
      'ERR_TOKEN_TYPE',
    ],
    [
      'a lifetime beyond the maximum',
      () => issuer.sign(pki.workloads['orders']!.thumbprint, { exp: now() + 30 * 86_400 }),
      'time claims',
      'ERR_TOKEN_LIFETIME',
    ],
    [
      'a forged signature',
      () => impostor.sign(pki.workloads['orders']!.thumbprint),
      'signature',
      'ERR_TOKEN_SIGNATURE',
    ],
    [
      'another issuer',
      () =>
        issuer.signRaw(
          JSON.stringify({
            iss: 'https://evil.test',
            aud: issuer.audience,
            client_id: 'orders',
            iat: now(),
            exp: now() + 300,
            cnf: { 'x5t#S256': pki.workloads['orders']!.thumbprint },
          }),
        ),
      'iss',
      'ERR_TOKEN_ISSUER',
    ],
    [
      'another audience',
      () => issuer.sign(pki.workloads['orders']!.thumbprint, { aud: 'https://other.test' }),
      'aud',
      'ERR_TOKEN_AUDIENCE',
    ],
    [
      'expired',
      () =>
        issuer.sign(pki.workloads['orders']!.thumbprint, { iat: now() - 600, exp: now() - 300 }),
      'exp/nbf/iat',
      'ERR_TOKEN_EXPIRED',
    ],
    [
      'bound to another certificate',
      () => issuer.sign(pki.workloads['attacker']!.thumbprint),
      'binding',
      'ERR_BINDING_MISMATCH',
    ],
    [
      'a route whose policy refuses the client',
      () => issuer.sign(pki.workloads['orders']!.thumbprint),
      'policy',
      'ERR_POLICY_DENIED',
      ['--path', '/admin/users'],
    ],
  ])(
    'refuses %s: ✗ on its check with the code, exit 1',
    async (_name, mint, check, code, extra) => {
      const r = await verifyOffline(await mint(), extra);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const failed = r.stdout.split('\n').filter((l) => l.startsWith('✗'));
      expect(failed[0]).toMatch(new RegExp(`^✗ ${check.replace('/', '\\/')}\\s+${code}: `));
      expect(r.stdout).toContain(`refused: ${code}: `);
    },
  );

  it('an expired token for another audience: both checks fail, each with its code', async () => {
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint, {
      aud: 'https://other.test',
      iat: now() - 600,
      exp: now() - 300,
    });
    const r = await verifyOffline(token);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✗ aud\s+ERR_TOKEN_AUDIENCE/m);
    expect(r.stdout).toMatch(/^✗ exp\/nbf\/iat\s+ERR_TOKEN_EXPIRED/m);
  });

  it('without --cert or with two token sources: a usage error, exit 2', async () => {
    const a = await runCli(['verify', '--config', offlineConfig, '--token', 'x']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--cert is required');
    const b = await runCli([
      'verify',
      '--config',
      offlineConfig,
      '--cert',
      ordersCert(),
      '--token',
      'x',
      '--token-file',
      'y',
    ]);
    expect(b.code).toBe(2);
  });
});
