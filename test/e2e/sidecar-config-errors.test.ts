import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/http-fixtures.js';

let files: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  files = await tempDir();
});
afterAll(async () => {
  await files?.cleanup();
});

const valid = `identity: { certPath: c.pem, keyPath: k.pem, bundlePath: ca.pem }
inbound: { port: 0, app: { url: "http://127.0.0.1:8080" } }
verify: { issuer: "https://as", audience: "https://api", jwksUri: "https://as/jwks" }
`;

describe('certbound run / config check with a bad configuration', () => {
  it.each([
    ['missing file', null, 'ERR_CONFIG_NOT_FOUND'],
    ['bad YAML', 'inbound: [1, 2\n', 'is not valid YAML'],
    ['unknown key', valid + 'inbuond: {}\n', 'inbuond: is not a known key'],
    [
      'wrong type',
      valid.replace('port: 0', 'port: "high"'),
      'inbound.port: must be a number, not a string (example: 15443)',
    ],
  ])('%s → exit ≠ 0 naming the problem, before opening a port', async (_name, text, expected) => {
    const path =
      text === null
        ? `${files.dir}/absent.yaml`
        : await files.write(`c${Math.random()}.yaml`, text);
    for (const args of [
      ['run', '--config', path],
      ['config', 'check', path],
    ]) {
      const result = await runCli(args, { timeoutMs: 15_000 });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(expected);
      expect(result.stdout).not.toContain('sidecar started');
    }
  });

  it('config check accepts examples/certbound.yaml', async () => {
    const result = await runCli(['config', 'check', '--schema-only', 'examples/certbound.yaml'], {
      timeoutMs: 15_000,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('valid');
  });
});
