import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/http-fixtures.js';

let files: Awaited<ReturnType<typeof tempDir>>;

const base = (extra: { top?: string; verify?: string }): string => `${extra.top ?? ''}
identity: { certPath: /nonexistent/cert.pem, keyPath: /nonexistent/key.pem, bundlePath: /nonexistent/ca.pem }
inbound:
  app: { url: "http://127.0.0.1:8080" }
verify:
  issuer: https://as.example
  audience: https://payments.example
  jwksUri: https://as.example/jwks
${extra.verify ?? ''}
`;

const BREAKING = `identity: { certPath: /nonexistent/cert.pem, keyPath: /nonexistent/key.pem, bundlePath: /nonexistent/ca.pem }
inbound:
  app: { url: "http://127.0.0.1:8080" }
  tls: { ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256, AES128-GCM-SHA256] }
verify:
  issuer: https://as.example
  audience: https://payments.example
  jwksUri: http://127.0.0.1:9000/jwks
  algorithms: [ES256, RS256, ES384]
  clockTolerance: 5s
`;

beforeAll(async () => {
  files = await tempDir();
});
afterAll(() => files?.cleanup());

describe('certbound config check --profile fapi2', () => {
  it('lists every violation with its FAPI 2.0 section and exits 1', async () => {
    const file = await files.write('breaking.yaml', BREAKING);
    const res = await runCli(['config', 'check', '--profile', 'fapi2', file]);
    expect(res.code).toBe(1);
    const lines = res.stderr.split('\n').map((l) => l.trim());
    expect(lines[0]).toContain('5 setting(s) break the FAPI 2.0 profile');
    expect(lines.slice(1).filter((l) => l !== '')).toEqual([
      expect.stringMatching(/^§5\.4\.1 verify\.algorithms: RS256 is not allowed/),
      expect.stringMatching(/^§5\.4\.1 verify\.algorithms: ES384 is not allowed/),
      expect.stringMatching(/^§5\.2\.1 verify\.jwksUri: must be an https:\/\/ URL/),
      expect.stringMatching(/^§5\.3\.2\.1 verify\.clockTolerance: is 5 s/),
      expect.stringMatching(/^§5\.2\.1 inbound\.tls\.ciphers: AES128-GCM-SHA256 is not one of/),
    ]);
  });

  it('checks a file that sets profile: fapi2 without the flag; without either it is just valid', async () => {
    const set = await files.write('set.yaml', `profile: fapi2\n${BREAKING}`);
    expect((await runCli(['config', 'check', set])).code).toBe(1);
    const plain = await files.write('plain.yaml', BREAKING);
    const res = await runCli(['config', 'check', '--schema-only', plain]);
    expect(res.code).toBe(0);
    expect(res.stdout).not.toContain('fapi2');
  });

  it('certbound run refuses to start a configuration that sets the profile and breaks it', async () => {
    const set = await files.write('run.yaml', `profile: fapi2\n${BREAKING}`);
    const res = await runCli(['run', '--config', set], { timeoutMs: 20_000 });
    expect(res.code).not.toBe(0);
    expect(res.stdout + res.stderr).toContain('§5.4.1 verify.algorithms: RS256 is not allowed');
  });

  it('passes a configuration that meets the profile', async () => {
    const good = await files.write(
      'good.yaml',
      base({
        top: 'profile: fapi2',
        verify: '  algorithms: [PS256, ES256]\n  clockTolerance: 10s',
      }),
    );
    const res = await runCli(['config', 'check', '--schema-only', good]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('meets profile fapi2');
  });

  it('refuses an unknown profile name', async () => {
    const good = await files.write('any.yaml', base({}));
    const res = await runCli(['config', 'check', '--profile', 'fapi1', good]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('unknown profile fapi1');
  });
});
