import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { runCli } from '../support/cli.js';

describe('certbound certs (built CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certbound-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints its version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('init + issue write a chain that openssl verifies, with a 0600 key', async () => {
    expect((await runCli(['certs', 'init', '--dir', dir])).code).toBe(0);
    const r = await runCli([
      'certs',
      'issue',
      '--dir',
      dir,
      '--name',
      'orders',
      '--spiffe-id',
      'spiffe://demo.local/ns/default/sa/orders',
      '--ttl',
      '2h',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const cert = join(dir, 'orders', 'cert.pem');
    expect(
      execFileSync('openssl', ['verify', '-CAfile', join(dir, 'orders', 'ca.pem'), cert], {
        encoding: 'utf8',
      }),
    ).toContain('OK');
    expect(statSync(join(dir, 'orders', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain(thumbprintOf(readFileSync(cert, 'utf8')));
    expect(r.stdout).not.toContain('PRIVATE KEY');
  });

  it('`certs issue --ttl 30s` is valid for 30 s from now (regression: counted from the back-dated notBefore, so it was expired when written)', async () => {
    expect((await runCli(['certs', 'init', '--dir', dir])).code).toBe(0);
    const issuedAfter = Date.now();
    const r = await runCli(['certs', 'issue', '--dir', dir, '--name', 'brief', '--ttl', '30s']);
    expect(r.code, r.stderr).toBe(0);
    const cert = new X509Certificate(readFileSync(join(dir, 'brief', 'cert.pem'), 'utf8'));
    const notAfter = Date.parse(cert.validTo);
    expect(notAfter).toBeGreaterThanOrEqual(Math.floor(issuedAfter / 1000) * 1000 + 30_000);
    expect(r.stdout).toContain(`expires ${new Date(notAfter).toISOString()}`);
  });

  it('reports usage errors with exit code 2', async () => {
    const r = await runCli(['certs', 'issue', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--name is required');
    const bad = await runCli([
      'certs',
      'issue',
      '--dir',
      dir,
      '--name',
      'x',
      '--spiffe-id',
      'http://nope',
    ]);
    expect(bad.code).toBe(2);
    expect((await runCli(['nope'])).code).toBe(2);
  });

  it('names the missing CA and the command that creates it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'certbound-empty-'));
    const r = await runCli(['certs', 'issue', '--dir', empty, '--name', 'orders']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('certs init');
    rmSync(empty, { recursive: true, force: true });
  });
});
