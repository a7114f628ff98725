import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { openHttp1Connection, type Http1Connection } from '../support/http1-connection.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { curl, startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

// Issue 18: SIGHUP used to kill `certbound run` (Node's default action for the signal). It
// must reload the configuration without dropping a connection: policies and issuers change
// under keep-alive load, a broken file is refused, a port change is reported as needing a restart.

const CONNECTIONS = 8;
const AFTER_RELOAD = 5;
const MAX_PER_CONNECTION = 2_000;

let pki: TestPki;
let issuerA: TestIssuer;
let issuerB: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecar: SidecarProcess | undefined;
const conns: Http1Connection[] = [];

beforeAll(async () => {
  [pki, issuerA, issuerB, app, files] = await Promise.all([
    createTestPki(['payments', 'orders']),
    createTestIssuer('a1', 'https://as-a.test'),
    createTestIssuer('b1', 'https://as-b.test'),
    startRecordingApp(),
    tempDir(),
  ]);
});

afterAll(async () => {
  for (const c of conns) c.destroy();
  await sidecar?.stop('SIGKILL');
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

describe('certbound run: SIGHUP reloads the configuration', () => {
  it('applies a policy and an issuer change under keep-alive load without a failed request, refuses a broken file, reports a port change', async () => {
    const p = pki.workloads['payments']!;
    const o = pki.workloads['orders']!;
    const jwksA = await files.write('jwks-a.json', JSON.stringify(issuerA.jwks()));
    const jwksB = await files.write('jwks-b.json', JSON.stringify(issuerB.jwks()));
    const head = (port: number, policies: string, verify: string): string =>
      `identity: { certPath: ${p.paths.cert}, keyPath: ${p.paths.key}, bundlePath: ${p.paths.ca} }
admin: { host: 127.0.0.1, port: 0 }
inbound:
  host: 127.0.0.1
  port: ${port}
  app: { url: "${app.url}" }
  policies: ${policies}
verify: ${verify}
`;
    const verifyA = `{ issuer: "${issuerA.issuer}", audience: "${issuerA.audience}", jwksFile: ${jwksA} }`;
    const verifyAB = `
  issuers:
    - { issuer: "${issuerA.issuer}", audience: "${issuerA.audience}", jwksFile: ${jwksA} }
    - { issuer: "${issuerB.issuer}", audience: "${issuerB.audience}", jwksFile: ${jwksB} }`;
    const config = await files.write('certbound.yaml', head(0, '[]', verifyA));
    const running = await startSidecarProcess(config);
    sidecar = running;
    const port = Number(running.addresses.inbound!.split(':').pop());
    const admin = running.addresses.admin!;
    const tokenA = await issuerA.sign(o.thumbprint);
    const tokenB = await issuerB.sign(o.thumbprint);
    for (let i = 0; i < CONNECTIONS; i++)
      conns.push(
        await openHttp1Connection(port, { ca: o.bundlePem, cert: o.certPem, key: o.keyPem }),
      );
    const get = (path: string, token: string): string =>
      `GET ${path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\n\r\n`;
    const statusOf = async (c: Http1Connection, path: string, token: string): Promise<number> => {
      const r = await c.request(get(path, token));
      if (!r.ok) throw new Error(`no answer on ${path}: ${r.reason}`);
      return r.response.status;
    };

    // Before: /blocked is open, issuer B is not trusted.
    expect(await statusOf(conns[0]!, '/blocked', tokenA)).toBe(200);
    expect(await statusOf(conns[0]!, '/loop', tokenB)).toBe(401);

    // Under load: every connection loops; SIGHUP once all are warm; each goes on for
    // AFTER_RELOAD more requests once the reload is logged.
    const mark = running.lines.length;
    await files.write(
      'certbound.yaml',
      head(0, '[{ prefix: /blocked, clientIds: [nobody] }]', verifyAB),
    );
    let reloaded = false;
    const reloadLogged = running
      .waitForLine('"configuration reloaded"', mark)
      .then(() => (reloaded = true));
    const failures: string[] = [];
    let warm = 0;
    await Promise.all(
      conns.map(async (c, i) => {
        let after = 0;
        for (let n = 0; n < MAX_PER_CONNECTION && after < AFTER_RELOAD; n++) {
          const r = await c.request(get(`/loop/${n}`, tokenA));
          if (!r.ok || r.response.status !== 200) {
            failures.push(`connection ${i}, request ${n}: ${r.ok ? r.response.status : r.reason}`);
            return;
          }
          if (n === 2 && ++warm === CONNECTIONS) running.child.kill('SIGHUP');
          if (reloaded) after++;
        }
      }),
    );
    await reloadLogged;
    expect(failures).toEqual([]);
    expect(conns.filter((c) => c.ended)).toHaveLength(0);
    // The new policy and the new issuer hold on the very same connections.
    for (const c of conns) {
      expect(await statusOf(c, '/blocked', tokenA)).toBe(403);
      expect(await statusOf(c, '/loop', tokenB)).toBe(200);
    }
    expect(running.child.exitCode).toBeNull();

    // A broken file is refused; the running configuration keeps serving.
    const beforeBroken = running.lines.length;
    await files.write('certbound.yaml', head(0, '[{ prefix: blocked }', verifyAB));
    running.child.kill('SIGHUP');
    const refused = await running.waitForLine('configuration reload refused', beforeBroken);
    expect(refused).toContain('ERR_CONFIG_INVALID');
    expect(await statusOf(conns[1]!, '/blocked', tokenA)).toBe(403);
    expect(await statusOf(conns[1]!, '/loop', tokenB)).toBe(200);

    // A file naming a JWKS file that cannot be read is refused too (nothing half-applied).
    const beforeMissing = running.lines.length;
    await files.write(
      'certbound.yaml',
      head(0, '[]', verifyAB.replace(jwksB, `${files.dir}/absent.json`)),
    );
    running.child.kill('SIGHUP');
    expect(await running.waitForLine('configuration reload refused', beforeMissing)).toContain(
      'ERR_FILE_UNREADABLE',
    );
    expect(await statusOf(conns[2]!, '/blocked', tokenA)).toBe(403);

    // A port change needs a restart: said so, and the old listener keeps serving.
    const beforePort = running.lines.length;
    await files.write(
      'certbound.yaml',
      head(port + 1, '[{ prefix: /blocked, clientIds: [nobody] }]', verifyAB),
    );
    running.child.kill('SIGHUP');
    const restart = await running.waitForLine('need a restart', beforePort);
    expect(restart).toContain('inbound.port');
    expect(await statusOf(conns[3]!, '/loop', tokenA)).toBe(200);

    const metrics = await curl([`http://${admin}/metrics`]);
    expect(metrics.body).toMatch(/certbound_config_reloads_total\{result="success"\} 2/);
    expect(metrics.body).toMatch(/certbound_config_reloads_total\{result="failure"\} 2/);
    expect(running.lines.join('\n')).not.toContain(tokenA);
  });
});
