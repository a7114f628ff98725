import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/http-fixtures.js';
import { createTestPki, type TestPki } from '../support/pki.js';

// Issue 18: `config check` validated the keys only, so a file `run` refuses at start (a key
// that does not match, a certificate that does not chain, an expired one, a CA file that is
// not PEM) passed the check. It now makes run's checks, with run's messages.

let pki: TestPki;
let other: TestPki;
let files: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  [pki, other, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestPki(['stranger']),
    tempDir(),
  ]);
  await pki.issue('expired', { ttlMs: 1 });
});
afterAll(async () => {
  await Promise.all([pki?.cleanup(), other?.cleanup(), files?.cleanup()]);
});

interface Identity {
  cert: string;
  key: string;
  ca: string;
}

async function configWith(id: Identity, extra = ''): Promise<string> {
  return files.write(
    `c${Math.random()}.yaml`,
    `identity: { certPath: ${id.cert}, keyPath: ${id.key}, bundlePath: ${id.ca} }
inbound: { port: 0, app: { url: "http://127.0.0.1:8080" } }
verify: { issuer: "https://as.test", audience: "https://payments.test", jwksUri: "https://as.test/jwks"${extra} }
`,
  );
}

/** The `certbound: CODE: message` line each command printed. */
async function refusals(
  path: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ check: string; run: string }> {
  const check = await runCli(['config', 'check', path], { env });
  const run = await runCli(['run', '--config', path], { env });
  expect(check.code).toBe(1);
  expect(run.code).toBe(1);
  expect(run.stdout).not.toContain('sidecar started');
  const line = (s: string): string => s.split('\n').find((l) => l.startsWith('certbound: ')) ?? s;
  return { check: line(check.stderr), run: line(run.stderr) };
}

describe('certbound config check makes the checks run makes, with the same messages', () => {
  const payments = (): Identity => pki.workloads['payments']!.paths;

  it('accepts a good configuration and says what it checked', async () => {
    const r = await runCli(['config', 'check', await configWith(payments())]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid');
    expect(r.stdout).toContain(pki.workloads['payments']!.thumbprint);
    expect(r.stdout).toContain('key matches, chains to the bundle');
  });

  it.each([
    [
      'an unreadable key file',
      (): Identity => ({ ...payments(), key: `${files.dir}/absent-key.pem` }),
      'ERR_FILE_UNREADABLE',
    ],
    [
      'a key that is not the certificate’s',
      (): Identity => ({ ...payments(), key: pki.workloads['orders']!.paths.key }),
      'ERR_KEY_MISMATCH',
    ],
    [
      'a certificate that does not chain to the bundle',
      (): Identity => ({ ...other.workloads['stranger']!.paths, ca: payments().ca }),
      'ERR_CERT_UNTRUSTED',
    ],
    ['an expired certificate', (): Identity => pki.workloads['expired']!.paths, 'ERR_CERT_EXPIRED'],
  ])('%s', async (_name, identity, code) => {
    const { check, run } = await refusals(await configWith(identity()));
    expect(check).toContain(`certbound: ${code}: `);
    expect(check).toBe(run);
  });

  it('a CA file that holds no certificate', async () => {
    const notPem = await files.write('not-a-ca.pem', 'this is not PEM\n');
    const { check, run } = await refusals(await configWith(payments(), `, jwksCaFile: ${notPem}`));
    expect(check).toBe(
      `certbound: ERR_CERT_PARSE: verify.jwksCaFile: ${notPem} holds no PEM certificate (expected the CA certificate(s) that sign the server's TLS certificate).`,
    );
    expect(check).toBe(run);
  });

  it('--schema-only opens no file it names', async () => {
    const path = await configWith({ ...payments(), key: `${files.dir}/absent-key.pem` });
    const r = await runCli(['config', 'check', '--schema-only', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('files not checked');
  });
});

describe('an environment override names its variable in errors', () => {
  it('a bad value: the key and the variable', async () => {
    const path = await configWith(pki.workloads['payments']!.paths);
    const env = { CERTBOUND_INBOUND_PORT: 'high' };
    const check = await runCli(['config', 'check', path], { env });
    const run = await runCli(['run', '--config', path], { env });
    for (const r of [check, run]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('inbound.port (from CERTBOUND_INBOUND_PORT): must be a number');
    }
  });

  it('a file path: the variable that set it', async () => {
    const path = await configWith(pki.workloads['payments']!.paths);
    const absent = `${files.dir}/env-absent-key.pem`;
    const { check, run } = await refusals(path, { CERTBOUND_IDENTITY_KEY_PATH: absent });
    expect(check).toContain('ERR_FILE_UNREADABLE');
    expect(check).toContain(absent);
    expect(check).toContain('identity.keyPath is set by CERTBOUND_IDENTITY_KEY_PATH');
    expect(check).toBe(run);
  });
});
