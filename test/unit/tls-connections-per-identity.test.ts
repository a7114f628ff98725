import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionsPerIdentity } from '../../src/tls/connections-per-identity.js';
import { undiciAgentsPerIdentity } from '../../src/tls/undici-agents.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createTestPki, type TestPki } from '../support/pki.js';

describe('ConnectionsPerIdentity (undici agents)', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki(['orders']);
  });
  afterAll(() => pki.cleanup());

  it('keeps one agent per identity snapshot and retires the previous one on a new identity', async () => {
    const w = pki.workloads['orders']!;
    const source = StaticX509Source.create({
      certPem: w.certPem,
      keyPem: w.keyPem,
      bundlePem: w.bundlePem,
    });
    const agents = undiciAgentsPerIdentity();
    const first = agents.for(source.current());
    expect(agents.for(source.current())).toBe(first);
    const next = await pki.issue('orders');
    source.set({ certPem: next.certPem, keyPem: next.keyPem, bundlePem: next.bundlePem });
    const second = agents.for(source.current());
    expect(second).not.toBe(first);
    await agents.close();
    expect(first.closed).toBe(true);
    expect(second.closed).toBe(true);
    expect(() => agents.for(source.current())).toThrow(/closed/);
    await source.close();
  });
});

describe('ConnectionsPerIdentity (the one per-identity helper)', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki(['orders']);
  });
  afterAll(() => pki.cleanup());

  function fakeFactory() {
    const events: string[] = [];
    let n = 0;
    const releases: Array<() => void> = [];
    return {
      events,
      releases,
      factory: {
        build: (identity: { thumbprint: string }) => {
          const name = `c${++n}`;
          events.push(`build ${name} ${identity.thumbprint.slice(0, 4)}`);
          return name;
        },
        retire: (c: string) =>
          new Promise<void>((resolve) => {
            events.push(`retire ${c}`);
            releases.push(resolve);
          }),
        destroy: (c: string) => {
          events.push(`destroy ${c}`);
          return Promise.resolve();
        },
      },
    };
  }

  it('follows a source: builds on publish, retires the old stack, waits for it on close', async () => {
    const w = pki.workloads['orders']!;
    const source = StaticX509Source.create({
      certPem: w.certPem,
      keyPem: w.keyPem,
      bundlePem: w.bundlePem,
    });
    const { events, releases, factory } = fakeFactory();
    const conns = new ConnectionsPerIdentity<string>(factory).follow(source);
    expect(conns.current()).toBe('c1');
    expect(conns.identity).toBe(source.current());
    const next = await pki.issue('orders');
    source.set({ certPem: next.certPem, keyPem: next.keyPem, bundlePem: next.bundlePem });
    expect(conns.current()).toBe('c2');
    expect(conns.retiringCount).toBe(1);
    let closed = false;
    const closing = conns.close().then(() => (closed = true));
    await Promise.resolve();
    expect(closed).toBe(false); // c1 has not finished draining
    for (const release of releases) release();
    await closing;
    expect(events.filter((e) => e.startsWith('retire'))).toEqual(['retire c1', 'retire c2']);
    expect(() => conns.current()).toThrow(/closed/);
    await source.close();
  });

  it('close({ abort }) destroys the current stack instead of retiring it', async () => {
    const w = pki.workloads['orders']!;
    const { events, factory } = fakeFactory();
    const conns = new ConnectionsPerIdentity<string>(factory);
    const source = StaticX509Source.create({
      certPem: w.certPem,
      keyPem: w.keyPem,
      bundlePem: w.bundlePem,
    });
    expect(() => conns.current()).toThrow(/no identity yet/);
    expect(conns.for(source.current())).toBe('c1');
    expect(conns.for(source.current())).toBe('c1');
    await conns.close({ abort: true });
    expect(events).toEqual([expect.stringMatching(/^build c1/), 'destroy c1']);
    await conns.close();
    await source.close();
  });
});
