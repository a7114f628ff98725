import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { reloadPlanOf } from '../../src/sidecar/config-reload.js';

const base = {
  identity: { certPath: 'c.pem', keyPath: 'k.pem', bundlePath: 'ca.pem' },
  inbound: { port: 15443, app: { url: 'http://127.0.0.1:8080' }, policies: [] },
  verify: { issuer: 'https://as', audience: 'https://api', jwksUri: 'https://as/jwks' },
  token: { issuer: 'https://as', clientId: 'orders' },
  outbound: {
    port: 15001,
    upstreams: [{ name: 'payments', url: 'https://payments:15443', audience: 'https://p' }],
  },
  admin: { port: 15000 },
};
const config = (patch: (c: typeof base & Record<string, unknown>) => unknown = () => undefined) => {
  const c = structuredClone(base) as typeof base & Record<string, unknown>;
  patch(c);
  return parseConfig(c, {});
};

describe('reloadPlanOf: what a SIGHUP applies live and what needs a restart', () => {
  it.each<[string, (c: typeof base & Record<string, unknown>) => unknown, string[], string[]]>([
    ['nothing changed', () => undefined, [], []],
    ['log level', (c) => (c['logLevel'] = 'warn'), ['logLevel'], []],
    [
      'a policy',
      (c) => (c.inbound.policies = [{ prefix: '/a', clientIds: ['x'] }] as never),
      ['inbound.policies'],
      [],
    ],
    ['the audience', (c) => (c.verify.audience = 'https://other'), ['verify'], []],
    [
      'an HTTP upstream',
      (c) => c.outbound.upstreams.push({ name: 'ledger', url: 'https://l:1', audience: 'a' }),
      ['outbound.upstreams'],
      [],
    ],
    ['the inbound port', (c) => (c.inbound.port = 16443), [], ['inbound.port']],
    [
      'the identity and the admin port',
      (c) => {
        c.identity.certPath = 'other.pem';
        c.admin.port = 16000;
      },
      [],
      ['identity.certPath', 'admin.port'],
    ],
    ['the token client', (c) => (c.token.clientId = 'other'), [], ['token.clientId']],
    [
      'a gRPC upstream',
      (c) => {
        (c.outbound as Record<string, unknown>)['grpcPort'] = 15002;
        c.outbound.upstreams.push({ name: 'g', url: 'https://g:1', protocol: 'grpc' } as never);
      },
      [],
      ['outbound.upstreams (protocol: grpc)', 'outbound.grpcPort'],
    ],
    [
      'a policy and the port at once',
      (c) => {
        c.inbound.policies = [{ prefix: '/a' }] as never;
        c.inbound.port = 1;
      },
      ['inbound.policies'],
      ['inbound.port'],
    ],
  ])('%s', (_name, patch, live, restart) => {
    const plan = reloadPlanOf(config(), config(patch));
    expect(plan.live).toEqual(live);
    expect([...plan.restartRequired].sort()).toEqual([...restart].sort());
  });
});
