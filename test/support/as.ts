import { createPublicKey } from 'node:crypto';
import type { JSONWebKeySet, JWK } from 'jose';
import {
  startAuthorizationServer,
  type AuthorizationServerOptions,
  type DevAuthorizationServer,
} from '../../devstack/authorization-server.js';
import { StaticX509Source } from '../../src/identity/static-x509-source.js';
import { createTestPki, type TestPki, type TestWorkload } from './pki.js';

/** The resource most tests ask tokens for. */
export const PAYMENTS = 'https://payments.demo.local';

/** A PKI plus a dev AS with clients `orders` (tls_client_auth) and `unbound` (no binding). */
export interface AsFixture {
  pki: TestPki;
  as: DevAuthorizationServer;
  close(): Promise<void>;
}

/** A StaticX509Source holding `workload`. */
export function sourceOf(workload: TestWorkload): StaticX509Source {
  return StaticX509Source.create({
    certPem: workload.certPem,
    keyPem: workload.keyPem,
    bundlePem: workload.bundlePem,
  });
}

/** RFC 8705 §2.2 registration: the certificate's public key with the certificate in x5c. */
export function jwksOf(workload: TestWorkload): JSONWebKeySet {
  const jwk = createPublicKey(workload.certPem).export({ format: 'jwk' }) as JWK;
  const der = workload.certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return { keys: [{ ...jwk, x5c: [der] }] };
}

/** Starts the dev AS over a fresh PKI. */
export async function startTestAs(
  overrides: Partial<Omit<AuthorizationServerOptions, 'ca'>> = {},
  names: string[] = ['orders', 'attacker'],
): Promise<AsFixture> {
  const pki = await createTestPki(names);
  const orders = pki.workloads['orders']!;
  const as = await startAuthorizationServer({
    ca: pki.ca,
    clients: [
      { clientId: 'orders', spiffeId: orders.spiffeId },
      { clientId: 'unbound', spiffeId: orders.spiffeId, bound: false },
    ],
    resources: [{ indicator: PAYMENTS, scopes: ['payments:read', 'payments:write'], ttlSec: 300 }],
    ...overrides,
  });
  return {
    pki,
    as,
    async close() {
      await as.close();
      await pki.cleanup();
    },
  };
}
