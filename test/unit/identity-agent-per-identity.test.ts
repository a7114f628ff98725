import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentPerIdentity } from '../../src/identity/agent-per-identity.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createTestPki, type TestPki } from '../support/pki.js';

describe('AgentPerIdentity', () => {
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
    const agents = new AgentPerIdentity();
    const first = agents.agentFor(source.current());
    expect(agents.agentFor(source.current())).toBe(first);
    const next = await pki.issue('orders');
    source.set({ certPem: next.certPem, keyPem: next.keyPem, bundlePem: next.bundlePem });
    const second = agents.agentFor(source.current());
    expect(second).not.toBe(first);
    await agents.close();
    expect(first.closed).toBe(true);
    expect(second.closed).toBe(true);
    expect(() => agents.agentFor(source.current())).toThrow(/closed/);
    await source.close();
  });
});
