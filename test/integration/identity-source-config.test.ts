import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySourceOf } from '../../src/sidecar/identity-source.js';
import { createTestPki, type TestPki } from '../support/pki.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki(['orders']);
});
afterAll(() => pki.cleanup());

function capture(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('identitySourceOf (the one place config becomes an X509Source)', () => {
  it('identity log lines carry "component" once (regression: it was written twice)', async () => {
    const { logger, lines } = capture();
    const w = pki.workloads['orders']!;
    const source = await identitySourceOf(
      {
        certPath: w.paths.cert,
        keyPath: w.paths.key,
        bundlePath: w.paths.ca,
        pollInterval: 1000,
        quietPeriod: 500,
      },
      { requireServerAuth: false, logger },
    );
    await source.close();
    const identityLines = lines.filter((l) => l.includes('"identity"'));
    expect(identityLines.length).toBeGreaterThan(0);
    for (const line of identityLines) expect(line.match(/"component":/g)).toHaveLength(1);
  });

  it('dev identity: self-renewed from the CA directory through the dev-CA signer', async () => {
    const source = await identitySourceOf(
      {
        dev: { caDir: pki.dir, name: 'renewed', ttl: 60_000 },
        pollInterval: 1000,
        quietPeriod: 500,
      },
      { requireServerAuth: true },
    );
    try {
      const id = source.current();
      expect(id.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
      expect(id.bundlePem).toContain(pki.ca.certPem.trim().split('\n')[1]);
    } finally {
      await source.close();
    }
  });
});
