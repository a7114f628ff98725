import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENTS, startTestAs, type AsFixture } from '../support/as.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/http-fixtures.js';

// Issue 18: the README promised `certbound token` prints a bound token's claims; it printed
// only the raw token. `--claims` decodes header and claims and never prints the token.

let fixture: AsFixture;
let files: Awaited<ReturnType<typeof tempDir>>;
let config: string;

beforeAll(async () => {
  [fixture, files] = await Promise.all([startTestAs(), tempDir()]);
  const { pki, as } = fixture;
  const o = pki.workloads['orders']!;
  config = await files.write(
    'orders.yaml',
    `identity: { certPath: ${o.paths.cert}, keyPath: ${o.paths.key}, bundlePath: ${o.paths.ca} }
token: { issuer: "${as.issuer}", clientId: orders, asCaFile: ${pki.dir}/bundle.pem }
outbound:
  port: 0
  upstreams: [{ name: payments, url: "https://localhost:1", resource: "${PAYMENTS}", scope: payments:read }]
`,
  );
});
afterAll(async () => {
  await fixture?.close();
  await files?.cleanup();
});

describe('certbound token --claims', () => {
  it('prints the decoded header and claims, bound to our certificate, and never the token', async () => {
    const asked = await runCli(['token', '--config', config, '--upstream', 'payments']);
    expect(asked.code, asked.stderr).toBe(0);
    const raw = asked.stdout.trim();
    expect(raw.split('.')).toHaveLength(3);

    const r = await runCli(['token', '--config', config, '--upstream', 'payments', '--claims']);
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as {
      header: { alg: string; typ: string };
      claims: Record<string, unknown>;
      x5t_s256: string;
    };
    const thumbprint = fixture.pki.workloads['orders']!.thumbprint;
    expect(printed.header.typ.toLowerCase()).toContain('at+jwt');
    expect(printed.claims['cnf']).toEqual({ 'x5t#S256': thumbprint });
    expect(printed.claims['aud']).toContain(PAYMENTS);
    expect(printed.x5t_s256).toBe(thumbprint);
    // A fresh token was issued for this run; none of any token's parts is printed.
    expect(r.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
    expect(r.stdout).not.toContain(raw.split('.')[2]);
  });

  it('--json and --claims together are a usage error', async () => {
    const r = await runCli(['token', '--config', config, '--json', '--claims']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('choose one');
  });
});
