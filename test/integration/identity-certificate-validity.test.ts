import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchCertificateValidity } from '../../src/identity/certificate-validity.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createTestPki, materialOf, type TestPki } from '../support/pki.js';

const DAY = 86_400_000;
let pki: TestPki;

beforeAll(async () => {
  pki = await createTestPki(['orders']);
});
afterAll(async () => {
  await pki?.cleanup();
});

/** A pino logger whose JSON lines land in `lines`; `next(match)` resolves on the first matching one. */
function capture(): {
  logger: pino.Logger;
  lines: Array<{ level: number; msg: string }>;
  next(match: RegExp, timeoutMs: number): Promise<{ level: number; msg: string }>;
} {
  const lines: Array<{ level: number; msg: string }> = [];
  const waiters: Array<{ match: RegExp; resolve: (line: { level: number; msg: string }) => void }> =
    [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as { level: number; msg: string };
        lines.push(line);
        for (const w of waiters.filter((w) => w.match.test(line.msg))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, stream),
    lines,
    next(match, timeoutMs) {
      const seen = lines.find((l) => match.test(l.msg));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no log line ${match}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

describe('watchCertificateValidity: the certificate readiness check', () => {
  it('not ready once the certificate in force is past notAfter, or before notBefore; the reason names the certificate and the time', () => {
    const source = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    const { notBefore, notAfter } = source.current();
    let now = Date.now();
    const validity = watchCertificateValidity(source, { now: () => now });
    try {
      expect(validity.name).toBe('certificate');
      expect(validity.check()).toEqual({ ok: true });
      now = notAfter.getTime();
      const expired = validity.check();
      expect(expired.ok).toBe(false);
      expect(expired.reason).toMatch(/^certificate .* expired at /);
      expect(expired.reason).toContain(notAfter.toISOString());
      now = notBefore.getTime() - 1;
      expect(validity.check().reason).toContain(`not valid before ${notBefore.toISOString()}`);
    } finally {
      validity.close();
    }
  });

  it('inside the warning window without a renewal: one warning (not one per probe) and expiring; a renewed certificate clears it', async () => {
    const source = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    const log = capture();
    // The 1-day certificate is inside a 2-day warning window at once.
    const validity = watchCertificateValidity(source, {
      expiryWarningMs: 2 * DAY,
      logger: log.logger,
    });
    try {
      for (let i = 0; i < 50; i++) {
        expect(validity.check()).toEqual({ ok: true });
        expect(validity.expiring).toBe(true);
      }
      const warnings = log.lines.filter((l) => /has not been renewed/.test(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.level).toBe(40);
      expect(warnings[0]!.msg).toContain(source.current().notAfter.toISOString());
      const renewed = await pki.issue('orders-renewed', { ttlMs: 30 * DAY });
      source.set(materialOf(renewed));
      expect(validity.expiring).toBe(false);
      expect(log.lines.filter((l) => /has not been renewed/.test(l.msg))).toHaveLength(1);
    } finally {
      validity.close();
    }
  });

  it('the default warning window is the last fifth of the lifetime', () => {
    const source = StaticX509Source.create(materialOf(pki.workloads['orders']!));
    const { notBefore, notAfter } = source.current();
    const windowStart = notAfter.getTime() - (notAfter.getTime() - notBefore.getTime()) / 5;
    let now = windowStart - 1;
    const validity = watchCertificateValidity(source, { now: () => now });
    try {
      expect(validity.expiring).toBe(false);
      now = windowStart;
      expect(validity.expiring).toBe(true);
    } finally {
      validity.close();
    }
  });

  it('logs the expiry when it happens (a timer, no probe needed): one error line, then not ready', async () => {
    // The lifetime counts from now (notBefore is backdated 60 s on top): expires 3 s from now.
    const brief = await pki.issue('brief', { ttlMs: 3_000 });
    const source = StaticX509Source.create(materialOf(brief));
    const log = capture();
    const validity = watchCertificateValidity(source, { logger: log.logger });
    try {
      const line = await log.next(/certificate expired at/, 20_000);
      expect(line.level).toBe(50);
      expect(validity.check().ok).toBe(false);
      expect(validity.expiring).toBe(true);
      expect(log.lines.filter((l) => /has not been renewed/.test(l.msg))).toHaveLength(1);
      expect(log.lines.filter((l) => /certificate expired at/.test(l.msg))).toHaveLength(1);
    } finally {
      validity.close();
      await source.close();
    }
  });
});
