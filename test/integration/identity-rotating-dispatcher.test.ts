import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbprintOf } from '../../src/binding/thumbprint.js';
import { createDevCa, issueCertificate, type DevCa } from '../../src/devca/dev-ca.js';
import { tlsOptionsOf } from '../../src/tls/follow-secure-context.js';
import { undiciAgentsPerIdentity } from '../../src/tls/undici-agents.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';

let ca: DevCa;
let server: Server;
let url: string;

async function material(name: string) {
  const issued = await issueCertificate(ca, { name });
  return { certPem: issued.certPem, keyPem: issued.keyPem ?? '', bundlePem: ca.certPem };
}

beforeAll(async () => {
  ca = await createDevCa();
  const serverId = StaticX509Source.create(await material('orders'), { requireServerAuth: true });
  server = createServer(
    { ...tlsOptionsOf(serverId.current()), requestCert: true, rejectUnauthorized: true },
    (req, res) => res.end(thumbprintOf((req.socket as TLSSocket).getPeerX509Certificate()!)),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('undici agents per identity, following a source', () => {
  it('presents the new client certificate after each update; the old agent is closed', async () => {
    const source = StaticX509Source.create(await material('payments'));
    const rotating = undiciAgentsPerIdentity().follow(source);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(url, { dispatcher: rotating.current() });
      seen.push(await res.body.text());
      expect(seen.at(-1)).toBe(source.current().thumbprint);
      const old = rotating.current();
      source.set(await material('payments'));
      expect(rotating.current()).not.toBe(old);
      expect(old.closed).toBe(true);
    }
    expect(new Set(seen).size).toBe(3);
    await rotating.close();
    await source.close();
    expect(() => rotating.current()).toThrow(/closed/);
  });
});
