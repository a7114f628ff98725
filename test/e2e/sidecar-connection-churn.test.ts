import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnConnections } from '../support/connection-churn.js';
import { createTestIssuer, type TestIssuer } from '../support/jwt.js';
import { createTestPki, type TestPki } from '../support/pki.js';
import { startRecordingApp, tempDir, type RecordingApp } from '../support/http-fixtures.js';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.js';

// Issue 12 item 1: with getPeerX509Certificate() per connection the sidecar grew ≈5 KB of
// native memory per new mTLS connection (≈14–20 MiB over 4000, ≈28–40 MiB over 8000), never
// released. A bound on bytes over a count of connections, never on time. The fixed build
// measures −4 to +6 MiB over 4000 when other test files share the CPU (heap and allocator
// noise, not growth per connection), so the count is large enough for a leak to stand far
// above that noise.
const WARM_UP = 1_000;
const MEASURED = 8_000;
const BOUND_BYTES = 12 * 1024 * 1024;

let pki: TestPki;
let issuer: TestIssuer;
let app: RecordingApp;
let files: Awaited<ReturnType<typeof tempDir>>;
let sidecar: SidecarProcess;

// Preloaded into the sidecar (`--import data:…`): on SIGUSR2 a full GC, then one JSON line
// with the RSS, so the test measures native memory, not garbage the heap has yet to collect.
const RSS_PROBE = `process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc();
  process.stdout.write(JSON.stringify({ probe: 'rss', rss: process.memoryUsage.rss() }) + '\\n'); });`;

/** Full GC in the sidecar (the preloaded probe), then its resident set size in bytes. */
async function rssAfterGc(): Promise<number> {
  const seen = sidecar.lines.length;
  sidecar.child.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    for (const line of sidecar.lines.slice(seen)) {
      if (line.startsWith('{"probe":"rss"')) return (JSON.parse(line) as { rss: number }).rss;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the RSS probe did not answer');
}

beforeAll(async () => {
  [pki, issuer, app, files] = await Promise.all([
    createTestPki(['orders', 'payments']),
    createTestIssuer(),
    startRecordingApp(),
    tempDir(),
  ]);
  const w = pki.workloads['payments']!;
  const jwks = await files.write('jwks.json', JSON.stringify(issuer.jwks()));
  const config = await files.write(
    'sidecar.yaml',
    `logLevel: warn
identity: { certPath: ${w.paths.cert}, keyPath: ${w.paths.key}, bundlePath: ${w.paths.ca} }
inbound:
  host: 127.0.0.1
  port: 0
  app: { url: "${app.url}" }
verify: { issuer: "${issuer.issuer}", audience: "${issuer.audience}", jwksFile: ${jwks} }
`,
  );
  sidecar = await startSidecarProcess(config, 20_000, [
    '--expose-gc',
    '--import',
    `data:text/javascript,${encodeURIComponent(RSS_PROBE)}`,
  ]);
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  await app?.close();
  await Promise.all([pki?.cleanup(), files?.cleanup()]);
});

describe('certbound run under connection churn', () => {
  it('does not grow native memory per inbound mTLS connection (one request per connection)', async () => {
    app.seen.length = 0;
    const token = await issuer.sign(pki.workloads['orders']!.thumbprint, {
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    const churn = (count: number) =>
      churnConnections({
        address: sidecar.addresses.inbound!,
        client: pki.workloads['orders']!,
        count,
        path: '/churn',
        headers: { authorization: `Bearer ${token}` },
      });
    expect(await churn(WARM_UP)).toEqual(new Map([[200, WARM_UP]]));
    app.seen.length = 0;
    const before = await rssAfterGc();
    expect(await churn(MEASURED)).toEqual(new Map([[200, MEASURED]]));
    app.seen.length = 0;
    const growth = (await rssAfterGc()) - before;
    console.log(
      `sidecar RSS growth over ${MEASURED} connections: ${(growth / 1024 / 1024).toFixed(1)} MiB (${Math.round(growth / MEASURED)} B/connection)`,
    );
    expect(growth).toBeLessThan(BOUND_BYTES);
  }, 180_000);
});
